// The RocksDB store end to end, one worker at a time: every transition of
// DESIGN.md "The key's life", TTL expiry, and what survives a restart.
#include "dedup_store/rocksdb_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <set>
#include <string>

#include "dedup_store/rocksdb_record.h"
#include "rocksdb_store_fixture.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::fingerprintOf;
using testing::LoopWorker;
using testing::TempDir;
using Outcome = BeginResult::Outcome;

constexpr milliseconds kDay = std::chrono::hours(24);

// The keys physically in the database (read-only, after the store closed).
std::set<std::string> keysOnDisk(const std::string& path) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::set<std::string> keys;
  if (!s.ok()) return keys;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.insert(it->key().ToString());
  return keys;
}

std::string keyBytes(std::string_view name) {
  return std::string(StoreKey::of("test", name).bytes());
}

class RocksDbStoreTest : public testing::RocksDbStoreFixture {
 protected:
  BeginResult beginOk(const BeginRequest& request) {
    StatusOr<BeginResult> r = await(worker->begin(request));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BeginResult{};
  }
  CommitOutcome commitOk(const StoreKey& key, LeaseToken token, const StoredResponse& response,
                         milliseconds ttl = kDay) {
    StatusOr<CommitOutcome> r = await(worker->commit(key, token, response, ttl));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CommitOutcome::kLeaseLost;
  }
};

TEST_F(RocksDbStoreTest, NameAndHealth) {
  EXPECT_EQ(backend->name(), "rocksdb");
  EXPECT_TRUE(backend->healthy());
  worker.reset();
  EXPECT_TRUE(backend->close().ok());
  EXPECT_FALSE(backend->healthy());
  EXPECT_TRUE(backend->close().ok()) << "close() twice is harmless";
}

TEST_F(RocksDbStoreTest, NewThenCommitThenReplay) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(1));
  const BeginResult first = beginOk(request);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  EXPECT_EQ(first.attempt, 1u);
  EXPECT_NE(first.token, 0u);

  const StoredResponse response{201, "application/json", std::string("{\"id\":1}\0\xff", 10)};
  EXPECT_EQ(commitOk(request.key, first.token, response), CommitOutcome::kCommitted);

  const BeginResult replay = beginOk(request);
  EXPECT_EQ(replay.outcome, Outcome::kCommitted);
  ASSERT_TRUE(replay.response.has_value());
  EXPECT_EQ(*replay.response, response);
  EXPECT_EQ(backend->stats().commits, 1u);
  EXPECT_GE(backend->stats().syncs, 1u);
  EXPECT_GE(backend->stats().committed_keys_estimate, 1);
}

TEST_F(RocksDbStoreTest, DifferentPayloadIsMismatch) {
  const BeginResult first = beginOk(beginRequest("k", milliseconds(30000), fingerprintOf(1)));
  ASSERT_EQ(first.outcome, Outcome::kNew);
  commitOk(StoreKey::of("test", "k"), first.token, StoredResponse{200, "", "ok"});

  EXPECT_EQ(beginOk(beginRequest("k", milliseconds(30000), fingerprintOf(2))).outcome,
            Outcome::kMismatch);
  EXPECT_EQ(beginOk(beginRequest("k", milliseconds(30000), fingerprintOf(1))).outcome,
            Outcome::kCommitted);
  EXPECT_EQ(beginOk(beginRequest("k", milliseconds(30000))).outcome, Outcome::kCommitted)
      << "an unfingerprinted request cannot mismatch";
}

TEST_F(RocksDbStoreTest, ReleaseKeepsTheAttemptCount) {
  const BeginRequest request = beginRequest("k");
  const BeginResult first = beginOk(request);
  ASSERT_EQ(first.outcome, Outcome::kNew);

  EXPECT_TRUE(await(worker->release(request.key, first.token + 1)).ok()) << "wrong token: no-op";
  EXPECT_EQ(beginOk(request).outcome, Outcome::kInFlight);

  EXPECT_TRUE(await(worker->release(request.key, first.token, std::chrono::minutes(1))).ok());
  const BeginResult again = beginOk(request);
  EXPECT_EQ(again.outcome, Outcome::kNew);
  EXPECT_EQ(again.attempt, 2u) << "the first attempt reached the app (or may have)";
  EXPECT_NE(again.token, first.token);

  // Released again, the count survives a restart, until the TTL ends.
  EXPECT_TRUE(await(worker->release(request.key, again.token, std::chrono::minutes(1))).ok());
  close();
  open();
  const BeginResult third = beginOk(request);
  EXPECT_EQ(third.attempt, 3u);
  EXPECT_TRUE(await(worker->release(request.key, third.token, std::chrono::minutes(1))).ok());
  clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(beginOk(request).attempt, 1u) << "past the TTL the key is absent";
}

TEST_F(RocksDbStoreTest, LiveLeaseIsInFlight) {
  const BeginRequest request = beginRequest("k", milliseconds(30000));
  ASSERT_EQ(beginOk(request).outcome, Outcome::kNew);
  const BeginResult second = beginOk(request);
  EXPECT_EQ(second.outcome, Outcome::kInFlight);
  EXPECT_GT(second.retry_after, milliseconds(0));
  EXPECT_LE(second.retry_after, milliseconds(30000));
  EXPECT_FALSE(second.response.has_value());
}

TEST_F(RocksDbStoreTest, ExpiredLeaseIsTakenOverAndTheOldTokenLosesTheCommit) {
  const BeginRequest request = beginRequest("k", milliseconds(50));
  const BeginResult first = beginOk(request);
  ASSERT_EQ(first.outcome, Outcome::kNew);

  // Poll on the real steady clock until the 50ms lease has run out.
  BeginResult takeover;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    takeover = beginOk(request);
    if (takeover.outcome == Outcome::kInFlight) std::this_thread::sleep_for(milliseconds(5));
  } while (takeover.outcome == Outcome::kInFlight && std::chrono::steady_clock::now() < give_up);
  ASSERT_EQ(takeover.outcome, Outcome::kNew);
  EXPECT_EQ(takeover.attempt, 2u);
  EXPECT_NE(takeover.token, first.token);

  EXPECT_EQ(commitOk(request.key, first.token, StoredResponse{200, "", "late"}),
            CommitOutcome::kLeaseLost);
  EXPECT_EQ(commitOk(request.key, takeover.token, StoredResponse{200, "", "second"}),
            CommitOutcome::kCommitted);
  const BeginResult replay = beginOk(request);
  ASSERT_EQ(replay.outcome, Outcome::kCommitted);
  EXPECT_EQ(replay.response->body, "second");
}

TEST_F(RocksDbStoreTest, CommitTwiceWithOneTokenLosesTheSecond) {
  const BeginRequest request = beginRequest("k");
  const BeginResult first = beginOk(request);
  EXPECT_EQ(commitOk(request.key, first.token, {}), CommitOutcome::kCommitted);
  EXPECT_EQ(commitOk(request.key, first.token, {}), CommitOutcome::kLeaseLost);
  EXPECT_EQ(backend->stats().commits, 1u);
}

TEST_F(RocksDbStoreTest, StatusThatDoesNotFitIsRejected) {
  const BeginRequest request = beginRequest("k");
  const BeginResult first = beginOk(request);
  StatusOr<CommitOutcome> r =
      await(worker->commit(request.key, first.token, StoredResponse{70000, "", ""}, kDay));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(commitOk(request.key, first.token, {}), CommitOutcome::kCommitted);
}

TEST_F(RocksDbStoreTest, ExpiredCommitIsInvisibleThenCompactedAway) {
  const auto commitKey = [&](std::string_view name, milliseconds ttl) {
    const BeginResult b = beginOk(beginRequest(name));
    ASSERT_EQ(b.outcome, Outcome::kNew);
    commitOk(StoreKey::of("test", name), b.token, StoredResponse{200, "", "x"}, ttl);
  };
  commitKey("short-read", milliseconds(1000));
  commitKey("short-untouched", milliseconds(1000));
  commitKey("long", milliseconds(3'600'000));
  EXPECT_EQ(beginOk(beginRequest("short-read")).outcome, Outcome::kCommitted);

  clock.advance(milliseconds(1000));
  const BeginResult expired = beginOk(beginRequest("short-read"));
  EXPECT_EQ(expired.outcome, Outcome::kNew);
  EXPECT_EQ(expired.attempt, 1u);
  EXPECT_EQ(beginOk(beginRequest("long")).outcome, Outcome::kCommitted);

  ASSERT_TRUE(compactRocksDbStore(*backend).ok());
  close();
  const std::set<std::string> keys = keysOnDisk(dir.path());
  EXPECT_EQ(keys.count(keyBytes("short-untouched")), 0u) << "expired record survived compaction";
  EXPECT_EQ(keys.count(keyBytes("long")), 1u);
  EXPECT_EQ(keys.count(keyBytes("short-read")), 1u) << "now a lease record";
}

TEST_F(RocksDbStoreTest, LeaseRecordsOutliveTheirLeaseButNotTheHorizon) {
  const BeginRequest request = beginRequest("k", milliseconds(50));
  ASSERT_EQ(beginOk(request).outcome, Outcome::kNew);
  clock.advance(kLeaseRecordHorizon - milliseconds(1));
  ASSERT_TRUE(compactRocksDbStore(*backend).ok());
  close();
  EXPECT_EQ(keysOnDisk(dir.path()).count(keyBytes("k")), 1u);

  open();
  clock.advance(milliseconds(1));
  ASSERT_TRUE(compactRocksDbStore(*backend).ok());
  close();
  EXPECT_EQ(keysOnDisk(dir.path()).count(keyBytes("k")), 0u);
}

TEST_F(RocksDbStoreTest, LeaseLeftByACrashIsTakenOverWithTheNextAttempt) {
  const BeginRequest request = beginRequest("k", milliseconds(30000));
  const BeginResult first = beginOk(request);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  close();  // the holder never commits: as if the process died

  open();
  const BeginResult second = beginOk(request);
  EXPECT_EQ(second.outcome, Outcome::kNew) << "a dead process's lease does not block";
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_EQ(commitOk(request.key, first.token, {}), CommitOutcome::kLeaseLost);
  EXPECT_EQ(beginOk(request).outcome, Outcome::kInFlight);
  close();

  open();
  EXPECT_EQ(beginOk(request).attempt, 3u);
}

TEST_F(RocksDbStoreTest, CommittedSurvivesReopen) {
  const BeginRequest request = beginRequest("k", milliseconds(30000), fingerprintOf(4));
  const BeginResult first = beginOk(request);
  const StoredResponse response{202, "text/plain", "accepted"};
  commitOk(request.key, first.token, response);
  close();

  open();
  const BeginResult replay = beginOk(request);
  ASSERT_EQ(replay.outcome, Outcome::kCommitted);
  EXPECT_EQ(*replay.response, response);
  EXPECT_EQ(beginOk(beginRequest("k", milliseconds(30000), fingerprintOf(5))).outcome,
            Outcome::kMismatch);
}

TEST_F(RocksDbStoreTest, CorruptRecordIsReportedNotFatal) {
  close();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keyBytes("bad"), "\x02truncated").ok());
  }
  open();
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("bad")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(beginOk(beginRequest("good")).outcome, Outcome::kNew) << "other keys still work";
}

TEST(RocksDbStoreOpenTest, UnusablePathIsAnError) {
  TempDir dir;
  const std::string file = dir.path() + "/file";
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);

  RocksDbOptions options;
  options.path = file + "/db";
  StatusOr<StoreBackendPtr> opened = openRocksDbStore(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kIOError);
  EXPECT_NE(opened.status().message().find(options.path), std::string::npos);

  options.path = "";
  EXPECT_EQ(openRocksDbStore(options).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace dedup

namespace dedup {
namespace {

StatusOr<KeyState> inspectKey(LoopWorker& worker, const StoreKey& key) {
  auto promise = std::make_shared<std::promise<StatusOr<KeyState>>>();
  std::future<StatusOr<KeyState>> future = promise->get_future();
  worker.run([&](std::unique_ptr<DedupStore>& store) {
    store->inspect(key, worker.checked<StatusOr<KeyState>>(
                            [promise](StatusOr<KeyState> r) { promise->set_value(std::move(r)); }));
  });
  return await(std::move(future));
}

StatusOr<ForgetOutcome> forgetKey(LoopWorker& worker, const StoreKey& key) {
  auto promise = std::make_shared<std::promise<StatusOr<ForgetOutcome>>>();
  std::future<StatusOr<ForgetOutcome>> future = promise->get_future();
  worker.run([&](std::unique_ptr<DedupStore>& store) {
    store->forget(key,
                  worker.checked<StatusOr<ForgetOutcome>>(
                      [promise](StatusOr<ForgetOutcome> r) { promise->set_value(std::move(r)); }));
  });
  return await(std::move(future));
}

TEST_F(RocksDbStoreTest, InspectShowsEachStateAndForgetMakesACommittedKeyNewAgain) {
  const BeginRequest request = beginRequest("k", milliseconds(30000));
  EXPECT_EQ(inspectKey(*worker, request.key)->kind, KeyState::Kind::kAbsent);
  EXPECT_EQ(*forgetKey(*worker, request.key), ForgetOutcome::kAbsent);

  const BeginResult first = beginOk(request);
  const KeyState in_flight = *inspectKey(*worker, request.key);
  EXPECT_EQ(in_flight.kind, KeyState::Kind::kInFlight);
  EXPECT_EQ(in_flight.attempt, 1u);
  EXPECT_GT(in_flight.lease_left, milliseconds(0));
  EXPECT_EQ(*forgetKey(*worker, request.key), ForgetOutcome::kInFlight);
  EXPECT_EQ(beginOk(request).outcome, Outcome::kInFlight) << "forget must not drop a lease";

  commitOk(request.key, first.token, StoredResponse{201, "", ""}, milliseconds(60000));
  const KeyState committed = *inspectKey(*worker, request.key);
  EXPECT_EQ(committed.kind, KeyState::Kind::kCommitted);
  EXPECT_EQ(committed.status, 201);
  EXPECT_EQ(committed.expires_at_ms, clock.now() + 60000);

  EXPECT_EQ(*forgetKey(*worker, request.key), ForgetOutcome::kForgotten);
  close();
  open();  // the forget is durable
  EXPECT_EQ(inspectKey(*worker, request.key)->kind, KeyState::Kind::kAbsent);
  const BeginResult again = beginOk(request);
  EXPECT_EQ(again.outcome, Outcome::kNew);
  EXPECT_EQ(again.attempt, 1u);

  ASSERT_TRUE(await(worker->release(request.key, again.token, milliseconds(60000))).ok());
  const KeyState released = *inspectKey(*worker, request.key);
  EXPECT_EQ(released.kind, KeyState::Kind::kReleased);
  EXPECT_EQ(released.attempt, 1u);
  EXPECT_EQ(released.expires_at_ms, clock.now() + 60000);
}

}  // namespace
}  // namespace dedup
