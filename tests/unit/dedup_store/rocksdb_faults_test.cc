// The RocksDB store on a disk that fails (fault_injection_fs.h): what it
// acknowledged survives a power cut; after a failed sync or write it
// acknowledges and replays nothing, for good; a hung disk becomes a Timeout
// within the deadline; a full queue refuses work instead of growing.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dedup_store/rocksdb_store.h"
#include "fault_injection_fs.h"
#include "store_test_support.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::FaultInjectionFs;
using testing::LoopWorker;
using Error = FaultInjectionFs::Error;
using Outcome = BeginResult::Outcome;

constexpr milliseconds kDay = std::chrono::hours(24);

// Polls `condition` for up to 10s.
template <typename Fn>
bool eventually(Fn condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

class RocksDbFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(milliseconds op_timeout = std::chrono::seconds(5), size_t max_queued_ops = 16384) {
    RocksDbOptions options;
    options.path = dir.path();
    options.now_ms = clock.fn();
    options.file_system = fs;
    options.op_timeout = op_timeout;
    options.max_queued_ops = max_queued_ops;
    StatusOr<StoreBackendPtr> opened = openRocksDbStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    backend = std::move(*opened);
    worker = std::make_unique<LoopWorker>(*backend);
  }
  Status shutdown() {
    worker.reset();
    const Status closed = backend->close();
    backend.reset();
    return closed;
  }
  // The machine goes away: nothing more reaches the disk, and only what was
  // synced is left there.
  void powerCut() {
    fs->cutPower();
    (void)shutdown();
    fs->applyPowerCut();
  }

  BeginResult beginOk(const BeginRequest& request) {
    StatusOr<BeginResult> r = await(worker->begin(request));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BeginResult{};
  }
  void commitOk(const BeginRequest& request, const StoredResponse& response) {
    const BeginResult lease = beginOk(request);
    ASSERT_EQ(lease.outcome, Outcome::kNew);
    StatusOr<CommitOutcome> r = await(worker->commit(request.key, lease.token, response, kDay));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(*r, CommitOutcome::kCommitted);
  }
  std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request) {
    return worker->beginNow(request);
  }
  bool replayedNow(const BeginRequest& request) {
    std::optional<StatusOr<BeginResult>> result = beginNow(request);
    return result.has_value() && result->ok() &&
           (*result)->outcome == BeginResult::Outcome::kCommitted;
  }

  const std::shared_ptr<FaultInjectionFs> fs = std::make_shared<FaultInjectionFs>();
  testing::TempDir dir;
  testing::FakeClock clock;
  StoreBackendPtr backend;
  std::unique_ptr<LoopWorker> worker;
};

TEST_F(RocksDbFaultTest, EveryCommitAcknowledgedBeforeAPowerCutIsThereAfterIt) {
  constexpr int kKeys = 400;
  std::vector<BeginRequest> requests;
  std::vector<std::future<StatusOr<BeginResult>>> begins;
  for (int i = 0; i < kKeys; ++i) {
    requests.push_back(beginRequest("power-" + std::to_string(i)));
    begins.push_back(worker->begin(requests.back()));
  }
  std::vector<std::future<StatusOr<CommitOutcome>>> commits;
  for (int i = 0; i < kKeys; ++i) {
    StatusOr<BeginResult> lease = await(std::move(begins[i]));
    ASSERT_TRUE(lease.ok() && lease->outcome == Outcome::kNew);
    commits.push_back(worker->commit(requests[i].key, lease->token,
                                     StoredResponse{200, "text/plain", std::to_string(i)}, kDay));
  }
  // Cut while later commits may still wait for their sync: only those
  // answered by now were acknowledged.
  commits.front().wait();
  std::vector<int> acknowledged;
  for (int i = 0; i < kKeys; ++i) {
    if (commits[i].wait_for(std::chrono::seconds(0)) == std::future_status::ready &&
        commits[i].get().ok()) {
      acknowledged.push_back(i);
    }
  }
  powerCut();
  ASSERT_FALSE(acknowledged.empty());

  open();
  for (int i : acknowledged) {
    SCOPED_TRACE(i);
    const BeginResult after = beginOk(requests[i]);
    ASSERT_EQ(after.outcome, Outcome::kCommitted) << "an acknowledged commit was lost";
    EXPECT_EQ(after.response->body, std::to_string(i));
  }
}

TEST_F(RocksDbFaultTest, LeasesAndReleasesWrittenBeforeASyncSurviveAPowerCut) {
  const BeginRequest released = beginRequest("released");
  const BeginResult first = beginOk(released);
  ASSERT_TRUE(await(worker->release(released.key, first.token, kDay)).ok());
  commitOk(beginRequest("synced-after"), StoredResponse{200, "", ""});  // syncs the WAL
  powerCut();
  open();
  EXPECT_EQ(beginOk(released).attempt, 2u) << "the released attempt count was synced along";
}

class FailedSyncTest : public RocksDbFaultTest, public ::testing::WithParamInterface<Error> {};

TEST_P(FailedSyncTest, AcknowledgesNothingAfterItAndFailsForGood) {
  const BeginRequest durable = beginRequest("durable");
  commitOk(durable, StoredResponse{201, "text/plain", "kept"});
  ASSERT_TRUE(replayedNow(durable));

  fs->failSyncs(GetParam());
  const BeginRequest doomed = beginRequest("doomed");
  const BeginResult lease = beginOk(doomed);  // a lease grant waits for no sync
  StatusOr<CommitOutcome> commit =
      await(worker->commit(doomed.key, lease.token, StoredResponse{200, "", ""}, kDay));
  EXPECT_FALSE(commit.ok()) << "a commit whose sync failed was acknowledged";
  EXPECT_FALSE(backend->healthy());
  EXPECT_FALSE(backend->fatalError().ok());

  fs->failSyncs(Error::kNone);  // the disk answers again; the store still refuses
  EXPECT_FALSE(await(worker->begin(beginRequest("later"))).ok());
  EXPECT_FALSE(await(worker->begin(durable)).ok()) << "no answer from state that may be gone";
  EXPECT_FALSE(await(worker->begin(doomed)).ok());
  EXPECT_FALSE(replayedNow(durable)) << "no replay after a failed sync";
  EXPECT_FALSE(backend->healthy()) << "unhealthy for good";
  const uint64_t wal_syncs = fs->walSyncs();
  EXPECT_FALSE(shutdown().ok());
  EXPECT_EQ(fs->walSyncs(), wal_syncs) << "the WAL is not synced again after the failure";

  // After a failed fsync the kernel may drop the unsynced pages: what was
  // synced before is all that is certain.
  fs->applyPowerCut();
  open();
  const BeginResult after = beginOk(durable);
  ASSERT_EQ(after.outcome, Outcome::kCommitted);
  EXPECT_EQ(after.response->body, "kept");
  EXPECT_EQ(beginOk(doomed).outcome, Outcome::kNew) << "the failed commit is not there";
}

INSTANTIATE_TEST_SUITE_P(EioAndEnospc, FailedSyncTest,
                         ::testing::Values(Error::kEio, Error::kNoSpace), [](const auto& info) {
                           return info.param == Error::kEio ? std::string("Eio")
                                                            : std::string("Enospc");
                         });

// Which files the full disk fails: the WAL only, or every file (WAL, table
// files, MANIFEST, and any log RocksDB would keep beside them).
class FullDiskTest : public RocksDbFaultTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(FullDiskTest, FailsTheStoreWithoutAbortingAndKeepsWhatWasCommitted) {
  const BeginRequest kept = beginRequest("kept");
  commitOk(kept, StoredResponse{200, "", "before the disk filled"});

  fs->failAppends(Error::kNoSpace, GetParam());
  EXPECT_FALSE(await(worker->begin(beginRequest("full"))).ok());
  EXPECT_FALSE(backend->fatalError().ok());
  // Nothing reaches RocksDB again: its WAL writer saw an error, and using it
  // again (a sync, a write) would end the process on an assertion.
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(await(worker->begin(beginRequest("more-" + std::to_string(i)))).ok());
  }
  EXPECT_FALSE(backend->healthy());
  EXPECT_FALSE(shutdown().ok());

  fs->failAppends(Error::kNone);  // space is back; the restart recovers
  open();
  EXPECT_TRUE(backend->healthy());
  const BeginResult after = beginOk(kept);
  ASSERT_EQ(after.outcome, Outcome::kCommitted);
  EXPECT_EQ(after.response->body, "before the disk filled");
  EXPECT_EQ(beginOk(beginRequest("full")).outcome, Outcome::kNew);
}

INSTANTIATE_TEST_SUITE_P(WalAndEveryFile, FullDiskTest, ::testing::Values(".log", ""),
                         [](const auto& info) {
                           return std::string(*info.param == '\0' ? "EveryFile" : "Wal");
                         });

TEST_F(RocksDbFaultTest, FullDiskOnATableFileIsABackgroundErrorThatFailsTheStore) {
  const BeginRequest kept = beginRequest("kept");
  commitOk(kept, StoredResponse{200, "", "kept"});

  fs->failAppends(Error::kNoSpace, ".sst");
  EXPECT_FALSE(compactRocksDbStore(*backend).ok()) << "the flush needs a table file";
  ASSERT_TRUE(eventually([&] { return !backend->fatalError().ok(); }));
  EXPECT_FALSE(backend->healthy());
  EXPECT_FALSE(await(worker->begin(beginRequest("after"))).ok());
  (void)shutdown();

  fs->failAppends(Error::kNone);
  open();
  EXPECT_EQ(beginOk(kept).outcome, Outcome::kCommitted);
}

TEST_F(RocksDbFaultTest, HungSyncBecomesATimeoutWithinTheDeadline) {
  (void)shutdown();
  open(milliseconds(300));
  const BeginRequest request = beginRequest("hung");
  const BeginResult lease = beginOk(request);

  fs->blockSyncs(true);
  const auto started = std::chrono::steady_clock::now();
  StatusOr<CommitOutcome> commit =
      await(worker->commit(request.key, lease.token, StoredResponse{200, "", "late"}, kDay));
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.status().code(), Status::Code::kTimeout);
  EXPECT_GE(waited, milliseconds(300));
  EXPECT_LT(waited, milliseconds(3000)) << "the deadline did not hold";
  EXPECT_EQ(fs->blockedCalls(), 1);
  EXPECT_FALSE(backend->healthy()) << "unready while the disk hangs";
  EXPECT_TRUE(backend->fatalError().ok()) << "a slow disk is not a failed one";

  fs->blockSyncs(false);
  EXPECT_TRUE(eventually([&] { return backend->healthy(); })) << "ready once the store answers";
  // The commit did become durable: a redelivery gets the replay.
  const BeginResult after = beginOk(request);
  ASSERT_EQ(after.outcome, Outcome::kCommitted);
  EXPECT_EQ(after.response->body, "late");
}

TEST_F(RocksDbFaultTest, ACommitWaitingForItsSyncIsInFlightNotReplayed) {
  const BeginRequest request = beginRequest("gate");
  std::optional<StatusOr<BeginResult>> lease = beginNow(request);
  ASSERT_TRUE(lease.has_value() && lease->ok() && (*lease)->outcome == Outcome::kNew);

  fs->blockSyncs(true);  // the commit is written, and waits at the sync
  auto commit = worker->commit(request.key, (*lease)->token, StoredResponse{200, "", "ok"}, kDay);
  ASSERT_TRUE(eventually([&] { return fs->blockedCalls() == 1; }));
  std::optional<StatusOr<BeginResult>> during = beginNow(request);
  ASSERT_TRUE(during.has_value() && during->ok());
  EXPECT_EQ((*during)->outcome, Outcome::kInFlight) << "a commit not yet durable was replayed";
  EXPECT_GE((*during)->retry_after, milliseconds(1));

  fs->blockSyncs(false);
  StatusOr<CommitOutcome> committed = await(std::move(commit));
  ASSERT_TRUE(committed.ok());
  EXPECT_TRUE(replayedNow(request)) << "replayed once its commit answered";
}

TEST_F(RocksDbFaultTest, HungWriteTimesOutAndAFullQueueRefusesWork) {
  (void)shutdown();
  open(milliseconds(300), /*max_queued_ops=*/4);
  fs->blockAppends(true, ".log");
  auto first = worker->begin(beginRequest("first"));  // the store thread hangs in its write
  ASSERT_TRUE(eventually([&] { return fs->blockedCalls() == 1; }));

  std::vector<std::future<StatusOr<BeginResult>>> more;
  for (int i = 0; i < 10; ++i) more.push_back(worker->begin(beginRequest("q" + std::to_string(i))));
  int refused = 0;
  int timed_out = 0;
  for (auto& f : more) {
    StatusOr<BeginResult> r = await(std::move(f));
    ASSERT_FALSE(r.ok());
    if (r.status().code() == Status::Code::kUnavailable) ++refused;
    if (r.status().code() == Status::Code::kTimeout) ++timed_out;
  }
  EXPECT_EQ(refused, 6) << "four wait in the queue, the rest are refused at once";
  EXPECT_EQ(timed_out, 4);
  EXPECT_EQ(backend->stats().queue_full, 6u);
  StatusOr<BeginResult> hung = await(std::move(first));
  EXPECT_EQ(hung.status().code(), Status::Code::kTimeout);
  EXPECT_FALSE(backend->healthy());

  fs->blockAppends(false);
  EXPECT_TRUE(eventually([&] { return backend->healthy(); }));
  EXPECT_TRUE(await(worker->begin(beginRequest("after"))).ok());
}

}  // namespace
}  // namespace dedup
