// Makes the RocksDB write-ahead log durable off the store thread, and only
// then completes the operations that waited for it (group commit across
// batches).
//
// The store thread writes commits without sync and hands their results over
// as a ticket; the syncer thread takes every ticket queued so far, syncs the
// WAL files once for all of them (which covers every write made before the
// call, so every queued ticket) and completes them. It syncs the files
// underneath RocksDB (wal_files.h), never through DB::SyncWAL(), whose WAL
// writer would assert if a write on the store thread had just failed. While it waits for the
// disk, the store thread goes on deciding and writing the next batches, so a
// begin never waits behind another key's fsync, and each fsync carries all
// the commits that arrived while the previous one ran.
//
// A failed sync fails its tickets and the store for good (store_failure.h):
// the synced epoch never moves past a write that was not made durable, and
// no later sync is tried (tickets submitted after it fail at once). A sync
// never starts after a failed write: it takes the writer's write mutex to
// check.
//
// Thread-safety: submit() and syncedEpoch() from the store thread, stop()
// from the thread that owns the store; the syncer's own thread does the rest.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "dedup_store/store_ops.h"

namespace rocksdb {
class DB;
}

namespace dedup {

struct WriterCounters;
class DurableView;
class StoreFailure;
class WalFiles;

// Results that may be reported once the WAL holds everything written before
// the ticket was submitted.
struct SyncTicket {
  uint64_t epoch = 0;    // increases with every submitted ticket
  uint64_t commits = 0;  // commits written for this ticket
  std::vector<std::pair<StoreOp, OpResult>> results;
};

class WalSyncer {
 public:
  // Each successful sync publishes to `durable` what it made durable.
  // `wal_write_mutex` is held by the store thread across each write.
  WalSyncer(rocksdb::DB& db, WalFiles& wal_files, WriterCounters& counters, DurableView& durable,
            StoreFailure& failure, Mutex& wal_write_mutex);
  ~WalSyncer();  // stop()
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  void submit(SyncTicket ticket);
  // Every ticket up to this epoch is durable (a failed sync never advances it).
  uint64_t syncedEpoch() const { return synced_epoch_.load(std::memory_order_acquire); }
  // Syncs and completes everything submitted, then ends the thread.
  void stop();

 private:
  void run();
  // Syncs the WAL and publishes what it made durable; on failure, fails the
  // store for good.
  Status sync();

  rocksdb::DB& db_;
  WalFiles& wal_files_;
  WriterCounters& counters_;
  DurableView& durable_;
  StoreFailure& failure_;
  Mutex& wal_write_mutex_;
  std::atomic<uint64_t> synced_epoch_{0};
  Mutex tickets_mutex_;
  std::condition_variable tickets_ready_;
  std::deque<SyncTicket> tickets_ GUARDED_BY(tickets_mutex_);
  bool stopping_ GUARDED_BY(tickets_mutex_) = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace dedup
