// The RocksDB store thread's work: decides a batch of operations against the
// in-memory lease table and the database, writes the outcome, and posts each
// result once the write it depends on has returned.
//
// Per batch:
//  - ops are decided in order, each seeing the effects of the ones before it
//    (a per-batch view of pending writes sits in front of the database);
//  - lease grants, releases and commits go into one WriteBatch written
//    without sync (one WAL write; leases survive a process crash through the
//    WAL); the results of commits wait for the WalSyncer: one fsync for all
//    the commits of this and any other batch written meanwhile (group
//    commit), off this thread (wal_syncer.h);
//  - results that needed no write are posted at once, begins that depend on
//    lease writes after the unsynced write, commits (and anything that read
//    them, in this batch or a later one, before they were synced) once the
//    WAL is synced;
//  - a failed write fails every op that depends on it with IOError and makes
//    the store fail for good (store_failure.h): from then on every op fails
//    at once, and nothing more is written.
//
// Thread-safety: owned and used by the store thread only; the counters are
// atomics that any thread may read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "dedup_store/rocksdb_record.h"
#include "dedup_store/store_failure.h"
#include "dedup_store/store_ops.h"
#include "dedup_store/wal_syncer.h"

namespace rocksdb {
class DB;
}

namespace dedup {

struct WriterCounters {
  std::atomic<uint64_t> commits{0};  // commits made durable
  std::atomic<uint64_t> syncs{0};    // successful synced writes
};

struct StoreKeyHash {
  size_t operator()(const StoreKey& key) const;
};

class RocksDbWriter {
 public:
  RocksDbWriter(rocksdb::DB& db, WalFiles& wal_files, std::function<int64_t()> now_ms,
                WriterCounters& counters, DurableView& durable, StoreFailure& failure);

  // Decides, writes and completes every op of `batch` (those waiting for a
  // sync complete later, on the syncer's thread).
  void process(std::vector<StoreOp>& batch);
  // Completes everything still waiting for a sync; call once no more
  // process() calls will come.
  void stop() { syncer_.stop(); }

 private:
  // Which write an op's result waits for; a later group is written later.
  enum class Group : uint8_t { kNone = 0, kLeases = 1, kCommits = 2 };
  class Batch;
  struct Decided;

  Decided evaluate(StoreOp& op, const Now& now, Batch& batch);
  Decided evaluateBegin(StoreOp& op, BeginOp& begin, const Now& now, Batch& batch);
  Decided evaluateCommit(StoreOp& op, CommitOp& commit, const Now& now, Batch& batch);
  Decided evaluateRelease(StoreOp& op, ReleaseOp& release, const Now& now, Batch& batch);
  Decided evaluateInspect(StoreOp& op, InspectOp& inspect, const Now& now, Batch& batch);
  Decided evaluateForget(StoreOp& op, ForgetOp& forget, const Now& now, Batch& batch);
  // What the batch or the database holds for a key (batch first).
  StatusOr<std::optional<StoredRecord>> lookup(const StoreKey& key, Batch& batch);
  StatusOr<std::optional<StoredRecord>> read(const StoreKey& key);
  void complete(Decided& decided);
  // Writes the batch without sync; on failure drops the leases it touched.
  Status write(Batch& batch);
  // Queues what is left of `decided` to be completed after the next sync.
  void handToSyncer(Batch& batch, std::vector<Decided>& decided);
  void dropAbandonedLeases(std::chrono::steady_clock::time_point now);

  rocksdb::DB& db_;
  std::function<int64_t()> now_ms_;
  StoreFailure& failure_;
  // Held across each database write; a failed write records the failure
  // before letting go, so the syncer never starts a sync after it (wal_syncer.h).
  Mutex wal_write_mutex_;
  TokenSource tokens_;
  std::unordered_map<StoreKey, LeaseEntry, StoreKeyHash> leases_;
  std::chrono::steady_clock::time_point last_sweep_;
  // Keys whose latest write waits for the sync of this ticket epoch: what a
  // later batch reads of them must not be reported before that sync.
  std::unordered_map<StoreKey, uint64_t, StoreKeyHash> unsynced_;
  uint64_t next_epoch_ = 0;
  WalSyncer syncer_;  // last: its thread may complete ops until stop()
};

}  // namespace dedup
