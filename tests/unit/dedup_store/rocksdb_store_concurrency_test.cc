// The RocksDB store under several workers at once: atomicity per key, group
// commit, close() with work queued, a worker going away mid-flight, and a
// real process crash.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <optional>
#include <vector>

#include "dedup_store/rocksdb_store.h"
#include "store_test_support.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::LoopWorker;
using testing::TempDir;
using Outcome = BeginResult::Outcome;

StoreBackendPtr openAt(const std::string& path) {
  RocksDbOptions options;
  options.path = path;
  StatusOr<StoreBackendPtr> opened = openRocksDbStore(options);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  return opened.ok() ? std::move(*opened) : nullptr;
}

std::vector<std::unique_ptr<LoopWorker>> startWorkers(StoreBackend& backend, int count) {
  std::vector<std::unique_ptr<LoopWorker>> workers;
  for (int i = 0; i < count; ++i) workers.push_back(std::make_unique<LoopWorker>(backend));
  return workers;
}

// Begin outcomes counted from any thread.
struct BeginTally {
  std::atomic<int> fresh{0}, in_flight{0}, other{0};
  void count(const StatusOr<BeginResult>& r) {
    if (r.ok() && r->outcome == Outcome::kNew) {
      ++fresh;
    } else if (r.ok() && r->outcome == Outcome::kInFlight) {
      ++in_flight;
    } else {
      ++other;
    }
  }
  int total() const { return fresh + in_flight + other; }
};

constexpr int kBeginsEach = 200;

// Eight workers each run `begins` (kBeginsEach of them) on one key at once; then
// the backend closes (finishing what is queued) and the outcomes are
// checked: one lease, every other begin in flight.
void expectOneLeaseFromEveryWorkerAtOnce(
    const std::function<void(LoopWorker&, DedupStore&, BeginTally&)>& begins) {
  constexpr int kWorkers = 8;
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  auto workers = startWorkers(*backend, kWorkers);
  BeginTally tally;
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&, w = worker.get()] {
      w->run([&](std::unique_ptr<DedupStore>& store) { begins(*w, *store, tally); });
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(backend->close().ok());  // finishes everything queued
  for (auto& worker : workers) worker->drain();
  EXPECT_EQ(tally.total(), kWorkers * kBeginsEach) << "every begin answered once";
  EXPECT_EQ(tally.fresh.load(), 1);
  EXPECT_EQ(tally.in_flight.load(), kWorkers * kBeginsEach - 1);
  EXPECT_EQ(tally.other.load(), 0);
}

void queueBegin(LoopWorker& worker, DedupStore& store, BeginTally& tally) {
  store.begin(beginRequest("same"), worker.checked<StatusOr<BeginResult>>(
                                        [&](const StatusOr<BeginResult>& r) { tally.count(r); }));
}

TEST(RocksDbStoreConcurrencyTest, ManyWorkersBeginningOneKeyGetExactlyOneNew) {
  expectOneLeaseFromEveryWorkerAtOnce([](LoopWorker& worker, DedupStore& store, BeginTally& tally) {
    for (int i = 0; i < kBeginsEach; ++i) queueBegin(worker, store, tally);
  });
}

TEST(RocksDbStoreConcurrencyTest, WorkersDecidingBeginsThemselvesGrantOneKeyOnce) {
  // beginNow() on every worker at once, with begin() (the store thread's
  // path) mixed in: one lease, whichever thread decides.
  expectOneLeaseFromEveryWorkerAtOnce([](LoopWorker& worker, DedupStore& store, BeginTally& tally) {
    for (int i = 0; i < kBeginsEach; ++i) {
      if (i % 10 == 0) {
        queueBegin(worker, store, tally);
      } else if (std::optional<StatusOr<BeginResult>> r = store.beginNow(beginRequest("same"))) {
        tally.count(*r);
      } else {
        ++tally.other;  // nothing here needs the disk
      }
    }
  });
}

TEST(RocksDbStoreConcurrencyTest, BeginsQueuedTogetherSeeEachOther) {
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  LoopWorker worker(*backend);
  for (int round = 0; round < 20; ++round) {
    const std::string key = "key" + std::to_string(round);
    std::vector<std::future<StatusOr<BeginResult>>> results;
    worker.run([&](std::unique_ptr<DedupStore>& store) {
      for (int i = 0; i < 3; ++i) {
        auto promise = std::make_shared<std::promise<StatusOr<BeginResult>>>();
        results.push_back(promise->get_future());
        store->begin(beginRequest(key),
                     worker.checked<StatusOr<BeginResult>>(
                         [promise](StatusOr<BeginResult> r) { promise->set_value(std::move(r)); }));
      }
    });
    int fresh = 0;
    for (auto& f : results) {
      StatusOr<BeginResult> r = await(std::move(f));
      ASSERT_TRUE(r.ok());
      fresh += r->outcome == Outcome::kNew;
    }
    EXPECT_EQ(fresh, 1) << key;
  }
}

TEST(RocksDbStoreConcurrencyTest, OperationsQueuedTogetherSeeEachOthersWrites) {
  // Queued back to back, these usually land in one batch: a begin must see a
  // commit or release decided just before it, not the database behind it.
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  LoopWorker worker(*backend);
  for (int round = 0; round < 20; ++round) {
    const BeginRequest committed = beginRequest("committed" + std::to_string(round));
    const BeginRequest released = beginRequest("released" + std::to_string(round));
    StatusOr<BeginResult> lease1 = await(worker.begin(committed));
    StatusOr<BeginResult> lease2 = await(worker.begin(released));
    ASSERT_TRUE(lease1.ok() && lease2.ok());

    std::promise<StatusOr<BeginResult>> after_commit, after_release;
    worker.run([&](std::unique_ptr<DedupStore>& store) {
      store->commit(committed.key, lease1->token, StoredResponse{200, "", "done"},
                    std::chrono::hours(1), [](StatusOr<CommitOutcome>) {});
      store->begin(committed, worker.checked<StatusOr<BeginResult>>(
                                  [&](StatusOr<BeginResult> r) { after_commit.set_value(r); }));
      store->release(released.key, lease2->token, std::chrono::hours(1), [](Status) {});
      store->begin(released, worker.checked<StatusOr<BeginResult>>(
                                 [&](StatusOr<BeginResult> r) { after_release.set_value(r); }));
    });
    StatusOr<BeginResult> replay = await(after_commit.get_future());
    ASSERT_TRUE(replay.ok());
    EXPECT_EQ(replay->outcome, Outcome::kCommitted);
    StatusOr<BeginResult> fresh = await(after_release.get_future());
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(fresh->outcome, Outcome::kNew);
    EXPECT_EQ(fresh->attempt, 2u) << "a released key keeps its attempt count";
  }
}

TEST(RocksDbStoreConcurrencyTest, ConcurrentCommitsShareFsyncs) {
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  constexpr int kWorkers = 4;
  constexpr int kKeysEach = 50;
  auto workers = startWorkers(*backend, kWorkers);

  // Leases first, one per key.
  std::vector<std::vector<LeaseToken>> tokens(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    for (int k = 0; k < kKeysEach; ++k) {
      StatusOr<BeginResult> r =
          await(workers[w]->begin(beginRequest("w" + std::to_string(w) + "k" + std::to_string(k))));
      ASSERT_TRUE(r.ok() && r->outcome == Outcome::kNew);
      tokens[w].push_back(r->token);
    }
  }
  const StoreStats before = backend->stats();

  // Then every commit at once, from all workers in parallel.
  std::atomic<int> committed{0}, failed{0};
  std::vector<std::promise<void>> all_done(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      auto remaining = std::make_shared<std::atomic<int>>(kKeysEach);
      workers[w]->run([&](std::unique_ptr<DedupStore>& store) {
        for (int k = 0; k < kKeysEach; ++k) {
          store->commit(StoreKey::of("test", "w" + std::to_string(w) + "k" + std::to_string(k)),
                        tokens[w][k], StoredResponse{200, "", "ok"}, std::chrono::hours(1),
                        workers[w]->checked<StatusOr<CommitOutcome>>(
                            [&, w, remaining](StatusOr<CommitOutcome> r) {
                              if (r.ok() && *r == CommitOutcome::kCommitted) {
                                ++committed;
                              } else {
                                ++failed;
                              }
                              if (--*remaining == 0) all_done[w].set_value();
                            }));
        }
      });
    });
  }
  for (auto& t : threads) t.join();
  for (auto& p : all_done) await(p.get_future());

  const StoreStats after = backend->stats();
  const uint64_t commits = after.commits - before.commits;
  const uint64_t syncs = after.syncs - before.syncs;
  EXPECT_EQ(committed.load(), kWorkers * kKeysEach);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(commits, static_cast<uint64_t>(kWorkers * kKeysEach));
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, commits);
  EXPECT_LT(syncs, commits / 2) << "commits were not grouped: " << syncs << " fsyncs";
}

TEST(RocksDbStoreConcurrencyTest, CloseCompletesEveryQueuedOperationOnce) {
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  constexpr int kWorkers = 2;
  constexpr int kOpsEach = 300;
  auto workers = startWorkers(*backend, kWorkers);

  std::vector<std::atomic<int>> calls(size_t{kWorkers} * kOpsEach);
  std::atomic<int> unexpected_errors{0};
  const auto count = [&](int index, const Status& status) {
    ++calls[index];
    if (!status.ok() && status.code() != Status::Code::kUnavailable) ++unexpected_errors;
  };
  for (int w = 0; w < kWorkers; ++w) {
    workers[w]->run([&, w](std::unique_ptr<DedupStore>& store) {
      for (int i = 0; i < kOpsEach; ++i) {
        const int index = w * kOpsEach + i;
        const BeginRequest request = beginRequest("k" + std::to_string(index));
        if (i % 3 == 2) {  // a release of a lease nobody holds: a no-op, still answered
          store->release(request.key, 12345, std::chrono::hours(1),
                         workers[w]->checked<Status>([&, index](Status s) { count(index, s); }));
        } else {
          store->begin(request,
                       workers[w]->checked<StatusOr<BeginResult>>(
                           [&, index](StatusOr<BeginResult> r) { count(index, r.status()); }));
        }
      }
    });
  }
  ASSERT_TRUE(backend->close().ok());

  std::atomic<int> late_calls{0};
  Status late_status;
  workers[0]->run([&](std::unique_ptr<DedupStore>& store) {
    store->begin(beginRequest("after close"),
                 workers[0]->checked<StatusOr<BeginResult>>([&](StatusOr<BeginResult> r) {
                   ++late_calls;
                   late_status = r.status();
                 }));
  });
  for (auto& worker : workers) worker->drain();

  for (size_t i = 0; i < calls.size(); ++i) ASSERT_EQ(calls[i].load(), 1) << "op " << i;
  EXPECT_EQ(unexpected_errors.load(), 0);
  EXPECT_EQ(late_calls.load(), 1);
  EXPECT_EQ(late_status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(late_status.message(), "store closed");
}

TEST(RocksDbStoreConcurrencyTest, WorkerGoingAwayMidFlightIsSafe) {
  // The worker's store and loop are destroyed while the store thread still
  // holds its operations: their results must be dropped, not posted to a dead
  // loop (ASan reports it otherwise).
  TempDir dir;
  StoreBackendPtr backend = openAt(dir.path());
  ASSERT_NE(backend, nullptr);
  std::atomic<int> calls{0};
  {
    LoopWorker worker(*backend);
    worker.run([&](std::unique_ptr<DedupStore>& store) {
      for (int i = 0; i < 500; ++i) {
        store->begin(beginRequest("k" + std::to_string(i)),
                     [&](StatusOr<BeginResult>) { ++calls; });
      }
      store.reset();
    });
  }
  EXPECT_LE(calls.load(), 500);
  LoopWorker other(*backend);
  StatusOr<BeginResult> r = await(other.begin(beginRequest("k499")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, Outcome::kInFlight) << "the dropped callers' operations still took effect";
  EXPECT_TRUE(backend->close().ok());
}

TEST(RocksDbStoreCrashTest, LeaseSurvivesAProcessCrash) {
  // The lease record is written without fsync; a killed process must still
  // leave it behind (in the WAL), so the redelivery is marked attempt 2.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* inherited = std::getenv("DEDUP_CRASH_TEST_DIR");
  std::optional<TempDir> own;
  const std::string path = inherited != nullptr ? inherited : own.emplace().path();
  setenv("DEDUP_CRASH_TEST_DIR", path.c_str(), 1);

  EXPECT_EXIT(
      {
        StoreBackendPtr backend = openAt(path);
        LoopWorker worker(*backend);
        StatusOr<BeginResult> r = await(worker.begin(beginRequest("k")));
        std::_Exit(r.ok() && r->outcome == Outcome::kNew ? 42 : 1);  // no close, no flush
      },
      ::testing::ExitedWithCode(42), "");
  unsetenv("DEDUP_CRASH_TEST_DIR");

  StoreBackendPtr backend = openAt(path);
  ASSERT_NE(backend, nullptr);
  LoopWorker worker(*backend);
  StatusOr<BeginResult> r = await(worker.begin(beginRequest("k")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, Outcome::kNew);
  EXPECT_EQ(r->attempt, 2u);
}

}  // namespace
}  // namespace dedup
