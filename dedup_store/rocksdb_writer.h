// The RocksDB store thread's work: everything that must reach the disk, and
// the begins a worker could not decide without waiting for it.
//
// Workers decide most begins themselves (lease_table.h); a commit or release
// reaches this thread with its lease already settling. Per batch of queued
// operations:
//  - commits, releases, forgets and the lease records of abandoned leases go
//    into one WriteBatch, written once; if it holds a commit or a forget, the
//    WAL is synced right after (group commit: one fsync for every commit
//    queued while the last one ran), underneath RocksDB (wal_files.h);
//  - only then are their leases dropped and their results posted, so a
//    commit is answered, and replayed to anyone, only once it is durable;
//  - then the begins and inspects of the batch are decided, seeing all of
//    it, with reads that may touch the disk.
// A failed write or sync fails every op of the batch and the store for good
// (store_failure.h): from then on every op fails at once, and nothing more is
// written or synced.
//
// Thread-safety: owned and used by the store thread only; the counters are
// atomics that any thread may read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "dedup_store/lease_journal.h"
#include "dedup_store/lease_table.h"
#include "dedup_store/rocksdb_record.h"
#include "dedup_store/store_failure.h"
#include "dedup_store/store_ops.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace dedup {

class WalFiles;

struct WriterCounters {
  std::atomic<uint64_t> commits{0};  // commits made durable
  std::atomic<uint64_t> syncs{0};    // successful WAL syncs
};

// A database read that may touch the disk (`cached_only`: answers nullopt
// instead). Corruption when the stored value is not a valid record.
std::optional<RecordRead> readRecord(rocksdb::DB& db, const StoreKey& key, bool cached_only);

class RocksDbWriter {
 public:
  // Grants decided here are journaled in the first of `journals` (the store
  // thread's lane).
  RocksDbWriter(rocksdb::DB& db, WalFiles& wal_files, LeaseTable& leases,
                LeaseJournalLanes& journals, std::function<int64_t()> now_ms,
                WriterCounters& counters, StoreFailure& failure);

  // Decides, writes and completes every op of `batch`.
  void process(std::vector<StoreOp>& batch);
  // At close: writes every lease still held as a lease record, syncs, and
  // lets the journal go (the database now holds what it recorded).
  Status persistLeases();

 private:
  struct Settled;

  void settle(StoreOp& op, const Now& now, rocksdb::WriteBatch& writes,
              std::vector<Settled>& settled, bool& needs_sync);
  void decide(StoreOp& op, const Now& now);
  void sweepAbandoned(const Now& now, rocksdb::WriteBatch& writes, std::vector<Settled>& settled);
  // Writes `writes` (and syncs when asked); on failure fails the store.
  Status write(rocksdb::WriteBatch& writes, bool sync);

  rocksdb::DB& db_;
  WalFiles& wal_files_;
  LeaseTable& leases_;
  LeaseJournalLanes& journals_;
  std::function<int64_t()> now_ms_;
  WriterCounters& counters_;
  StoreFailure& failure_;
  std::chrono::steady_clock::time_point last_sweep_;
};

}  // namespace dedup
