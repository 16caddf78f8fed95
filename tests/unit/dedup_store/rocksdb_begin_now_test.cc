// DedupStore::replayNow() on the RocksDB store: a worker answers a replay
// from durable state on its own thread, and anything it cannot be sure of
// (absent, in flight, expired, another payload, forgotten) is left to begin().
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dedup_store/rocksdb_store.h"
#include "rocksdb_store_fixture.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::fingerprintOf;

class RocksDbReplayNowTest : public testing::RocksDbStoreFixture {
 protected:
  std::optional<BeginResult> replayNow(const BeginRequest& request) {
    std::optional<BeginResult> result;
    worker->run([&](std::unique_ptr<DedupStore>& store) { result = store->replayNow(request); });
    return result;
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

TEST_F(RocksDbReplayNowTest, AnswersADurableCommitAtOnce) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(1));
  EXPECT_FALSE(replayNow(request).has_value()) << "absent";

  StatusOr<BeginResult> begun = await(worker->begin(request));
  ASSERT_TRUE(begun.ok());
  EXPECT_FALSE(replayNow(request).has_value()) << "in flight: only begin() decides";

  const StoredResponse response{201, "application/json", "{\"id\":7}"};
  StatusOr<CommitOutcome> committed =
      await(worker->commit(request.key, begun->token, response, std::chrono::hours(1)));
  ASSERT_TRUE(committed.ok());
  // The commit's callback ran, so the sync that made it durable published it.
  const std::optional<BeginResult> replay = replayNow(request);
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->outcome, BeginResult::Outcome::kCommitted);
  EXPECT_EQ(replay->attempt, 1u);
  ASSERT_TRUE(replay->response.has_value());
  EXPECT_EQ(*replay->response, response);
}

TEST_F(RocksDbReplayNowTest, LeavesAnotherPayloadAndExpiryToBegin) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(1));
  commitKey(request, StoredResponse{200, "", "ok"}, milliseconds(1000));
  ASSERT_TRUE(replayNow(request).has_value());
  EXPECT_TRUE(replayNow(beginRequest("k", milliseconds(30000))).has_value())
      << "no fingerprint on the request: the key alone decides";

  EXPECT_FALSE(replayNow(beginRequest("k", milliseconds(30000), fingerprintOf(2))).has_value());
  StatusOr<BeginResult> mismatch =
      await(worker->begin(beginRequest("k", milliseconds(30000), fingerprintOf(2))));
  ASSERT_TRUE(mismatch.ok());
  EXPECT_EQ(mismatch->outcome, BeginResult::Outcome::kMismatch);

  clock.advance(milliseconds(1000));
  EXPECT_FALSE(replayNow(request).has_value()) << "expired";
}

TEST_F(RocksDbReplayNowTest, ForgottenKeyIsNotReplayed) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{200, "", "ok"});
  ASSERT_TRUE(replayNow(request).has_value());

  auto forgotten = std::make_shared<std::promise<StatusOr<ForgetOutcome>>>();
  worker->run([&](std::unique_ptr<DedupStore>& store) {
    store->forget(request.key,
                  [forgotten](StatusOr<ForgetOutcome> r) { forgotten->set_value(std::move(r)); });
  });
  StatusOr<ForgetOutcome> outcome = await(forgotten->get_future());
  ASSERT_TRUE(outcome.ok());
  ASSERT_EQ(*outcome, ForgetOutcome::kForgotten);
  EXPECT_FALSE(replayNow(request).has_value());
}

TEST_F(RocksDbReplayNowTest, CommitsFromBeforeARestartAreReplayedAtOnce) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{202, "text/plain", "queued"});
  close();
  open();
  // The first read may have to go to the disk, which a worker never does:
  // begin() answers it, and brings the block into memory.
  StatusOr<BeginResult> first = await(worker->begin(request));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->outcome, BeginResult::Outcome::kCommitted);
  const std::optional<BeginResult> replay = replayNow(request);
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->response->status, 202);
  EXPECT_EQ(replay->response->body, "queued");
}

// A begin that finds a commit not yet synced (in its own batch or an earlier
// one) reports only after that sync: never before the commit's own answer.
// Many rounds, so that some begins land in the batch after their commit.
TEST_F(RocksDbReplayNowTest, ReplayOfACommitWaitsForItsSync) {
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

TEST_F(RocksDbReplayNowTest, NothingOnceClosed) {
  const BeginRequest request = beginRequest("k");
  commitKey(request, StoredResponse{200, "", "ok"});
  std::unique_ptr<DedupStore> store;
  worker->run([&](std::unique_ptr<DedupStore>& s) { store.swap(s); });
  ASSERT_TRUE(backend->close().ok());
  EXPECT_FALSE(store->replayNow(request).has_value());
  store.reset();
}

}  // namespace
}  // namespace dedup
