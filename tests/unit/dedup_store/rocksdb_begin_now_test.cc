// DedupStore::beginNow() on the RocksDB store: a worker decides a begin on
// its own thread (new key, replay, in flight, mismatch, takeover) from the
// lease table and what RocksDB holds in memory, and leaves to begin() only
// what would need the disk.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dedup_store/rocksdb_store.h"
#include "rocksdb_store_fixture.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::fingerprintOf;

class RocksDbBeginNowTest : public testing::RocksDbStoreFixture {
 protected:
  std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request) {
    return worker->beginNow(request);
  }
  // beginNow() that must decide: the outcome, or a failure of the test.
  BeginResult decidedNow(const BeginRequest& request) {
    std::optional<StatusOr<BeginResult>> result = beginNow(request);
    EXPECT_TRUE(result.has_value()) << "left to begin()";
    if (!result.has_value()) return {};
    EXPECT_TRUE(result->ok()) << result->status().ToString();
    return result->ok() ? **result : BeginResult{};
  }
  // Begins and commits `request`'s key; returns once the commit is durable.
  void commitKey(const BeginRequest& request, const StoredResponse& response,
                 milliseconds ttl = std::chrono::hours(1)) {
    StatusOr<BeginResult> begun = await(worker->begin(request));
    ASSERT_TRUE(begun.ok());
    ASSERT_EQ(begun->outcome, BeginResult::Outcome::kNew);
    StatusOr<CommitOutcome> committed =
        await(worker->commit(request.key, begun->token, response, ttl));
    ASSERT_TRUE(committed.ok());
    ASSERT_EQ(*committed, CommitOutcome::kCommitted);
  }
};

TEST_F(RocksDbBeginNowTest, DecidesANewKeyHoldsItsLeaseAndReplaysItsCommit) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(1));
  const BeginResult begun = decidedNow(request);
  ASSERT_EQ(begun.outcome, BeginResult::Outcome::kNew);
  EXPECT_EQ(begun.attempt, 1u);
  EXPECT_EQ(decidedNow(request).outcome, BeginResult::Outcome::kInFlight);
  StatusOr<BeginResult> queued = await(worker->begin(request));
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->outcome, BeginResult::Outcome::kInFlight) << "the store thread sees it too";

  const StoredResponse response{201, "application/json", "{\"id\":7}"};
  StatusOr<CommitOutcome> committed =
      await(worker->commit(request.key, begun.token, response, std::chrono::hours(1)));
  ASSERT_TRUE(committed.ok());
  ASSERT_EQ(*committed, CommitOutcome::kCommitted);
  const BeginResult replay = decidedNow(request);
  EXPECT_EQ(replay.outcome, BeginResult::Outcome::kCommitted);
  EXPECT_EQ(replay.attempt, 1u);
  ASSERT_TRUE(replay.response.has_value());
  EXPECT_EQ(*replay.response, response);
}

TEST_F(RocksDbBeginNowTest, ReleaseThenTakeoverCountAttempts) {
  const BeginRequest request = beginRequest("k", milliseconds(50));
  const BeginResult first = decidedNow(request);
  ASSERT_EQ(first.outcome, BeginResult::Outcome::kNew);
  ASSERT_TRUE(await(worker->release(request.key, first.token, std::chrono::hours(1))).ok());
  const BeginResult second = decidedNow(request);
  ASSERT_EQ(second.outcome, BeginResult::Outcome::kNew);
  EXPECT_EQ(second.attempt, 2u) << "a released key keeps its attempt count";

  std::this_thread::sleep_for(milliseconds(60));  // the lease's own deadline, on the steady clock
  const BeginResult third = decidedNow(request);
  ASSERT_EQ(third.outcome, BeginResult::Outcome::kNew) << "an expired lease is taken over";
  EXPECT_EQ(third.attempt, 3u);
  StatusOr<CommitOutcome> late =
      await(worker->commit(request.key, second.token, StoredResponse{}, std::chrono::hours(1)));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(*late, CommitOutcome::kLeaseLost);
}

TEST_F(RocksDbBeginNowTest, MismatchAndExpiry) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(1));
  commitKey(request, StoredResponse{200, "", "ok"}, milliseconds(1000));
  EXPECT_EQ(decidedNow(beginRequest("k", milliseconds(30000))).outcome,
            BeginResult::Outcome::kCommitted)
      << "no fingerprint on the request: the key alone decides";
  EXPECT_EQ(decidedNow(beginRequest("k", milliseconds(30000), fingerprintOf(2))).outcome,
            BeginResult::Outcome::kMismatch);

  clock.advance(milliseconds(1000));
  const BeginResult fresh = decidedNow(request);
  EXPECT_EQ(fresh.outcome, BeginResult::Outcome::kNew) << "expired";
  EXPECT_EQ(fresh.attempt, 1u);
}

TEST_F(RocksDbBeginNowTest, ForgottenKeyIsNewAgain) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{200, "", "ok"});
  ASSERT_EQ(decidedNow(request).outcome, BeginResult::Outcome::kCommitted);

  auto forgotten = std::make_shared<std::promise<StatusOr<ForgetOutcome>>>();
  worker->run([&](std::unique_ptr<DedupStore>& store) {
    store->forget(request.key,
                  [forgotten](StatusOr<ForgetOutcome> r) { forgotten->set_value(std::move(r)); });
  });
  StatusOr<ForgetOutcome> outcome = await(forgotten->get_future());
  ASSERT_TRUE(outcome.ok());
  ASSERT_EQ(*outcome, ForgetOutcome::kForgotten);
  EXPECT_EQ(decidedNow(request).outcome, BeginResult::Outcome::kNew);
}

TEST_F(RocksDbBeginNowTest, CommitsFromBeforeARestartAreReplayed) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{202, "text/plain", "queued"});
  close();
  open();
  // The first read may have to go to the disk, which a worker never does:
  // then begin() answers it, and brings the block into memory.
  if (!beginNow(request).has_value()) {
    StatusOr<BeginResult> first = await(worker->begin(request));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->outcome, BeginResult::Outcome::kCommitted);
  }
  const BeginResult replay = decidedNow(request);
  ASSERT_EQ(replay.outcome, BeginResult::Outcome::kCommitted);
  EXPECT_EQ(replay.response->status, 202);
  EXPECT_EQ(replay.response->body, "queued");
}

// A begin that finds a commit not yet synced (in its own batch or an earlier
// one) reports only after that sync: never before the commit's own answer.
// Many rounds, so that some begins land in the batch after their commit.
TEST_F(RocksDbBeginNowTest, ReplayOfACommitWaitsForItsSync) {
  for (int round = 0; round < 200; ++round) {
    const BeginRequest request = beginRequest("k" + std::to_string(round));
    StatusOr<BeginResult> begun = await(worker->begin(request));
    ASSERT_TRUE(begun.ok());
    ASSERT_EQ(begun->outcome, BeginResult::Outcome::kNew);
    std::vector<std::string> order;  // touched on the loop's thread only
    auto done = std::make_shared<std::promise<void>>();
    worker->run([&](std::unique_ptr<DedupStore>& store) {
      store->commit(request.key, begun->token, StoredResponse{200, "", "ok"}, std::chrono::hours(1),
                    [&order](StatusOr<CommitOutcome>) { order.push_back("commit"); });
      store->begin(request, [&order, done](StatusOr<BeginResult> replay) {
        order.push_back(replay.ok() && replay->outcome == BeginResult::Outcome::kCommitted
                            ? "replay"
                            : "other");
        done->set_value();
      });
    });
    await(done->get_future());
    worker->drain();
    ASSERT_EQ(order, (std::vector<std::string>{"commit", "replay"})) << "round " << round;
  }
}

TEST_F(RocksDbBeginNowTest, NothingOnceClosed) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{200, "", "ok"});
  std::unique_ptr<DedupStore> store;
  worker->run([&](std::unique_ptr<DedupStore>& s) { store.swap(s); });
  ASSERT_TRUE(backend->close().ok());
  std::optional<StatusOr<BeginResult>> after = store->beginNow(request);
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(after->ok()) << "nothing is decided once closed";
  store.reset();
}

}  // namespace
}  // namespace dedup
