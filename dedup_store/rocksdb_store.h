// The embedded store: key state in a local RocksDB database.
//
// Leases live in a striped in-memory table (lease_table.h) that workers
// share: a worker decides a begin on its own thread, reading RocksDB only
// from memory, and records a grant in the lease journal (lease_journal.h: one
// unsynced append, which survives a process crash) instead of writing it
// through the LSM. Commits and releases go to one store thread, the only
// writer: commits are group-committed, one fsync per batch (the thread waits
// a little for more while other deliveries are at the app), and
// acknowledged (and replayed to anyone) only once durable. See
// rocksdb_writer.h. Begins that would read the disk go to the store thread
// too.
//
// Expired committed keys are invisible at once and removed from disk by a
// compaction filter as RocksDB compacts (never by a scan).
//
// Failures (store_failure.h): a failed write or sync, or a RocksDB
// background error (a flush or compaction that hit ENOSPC), fails the store
// for good: fatalError() says why, healthy() is false, and every operation
// fails from then on, without RocksDB being used again. A store operation
// that has not answered within `op_timeout` fails with Timeout, and the store
// is unhealthy until it answers (deadline_store.h).
//
// Thread-safety: the backend is thread-safe; each DedupStore from attach() is
// used on its loop's thread only, and destroying it cancels its pending
// callbacks (they are destroyed without running). close() finishes every
// operation queued before it, then answers later ones with
// Unavailable("store closed").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace rocksdb {
class FileSystem;
}

namespace dedup {

struct RocksDbOptions {
  // Database directory; created (with its parents) if missing.
  std::string path;
  // LRU block cache, also holding index and filter blocks, and charged for
  // the memtables (a quarter of it at most): RocksDB's memory. Default 8 MiB.
  uint64_t block_cache_bytes = uint64_t{8} << 20;
  // Wall clock in ms since the Unix epoch, for TTLs (records and compaction
  // filter; called from several threads). Default: std::chrono::system_clock.
  std::function<int64_t()> now_ms;
  // Every begin, commit and release answers within it (Timeout past it).
  // Default 5s.
  std::chrono::milliseconds op_timeout{5000};
  // The longest the store thread waits for more commits before it syncs a
  // batch, while other deliveries hold leases (their commits are coming): it
  // waits a quarter of the time deliveries recently spent at the app, at
  // most this; a lone delivery never waits. 0: sync at once. Default 1ms.
  std::chrono::microseconds commit_linger{1000};
  // Operations waiting for the store thread at most; more are refused with
  // Unavailable (counted in StoreStats::queue_full). Default 16384.
  size_t max_queued_ops = 16384;
  // For tests: the file system RocksDB uses (default: the real one).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Opens (or creates) the database and starts the store thread. IOError naming
// the path when RocksDB cannot open it.
StatusOr<StoreBackendPtr> openRocksDbStore(const RocksDbOptions& options);

// Compacts the whole database now, dropping expired records, instead of
// waiting for RocksDB's background compactions. Blocks. For tests and
// maintenance; InvalidArgument when `backend` is not from openRocksDbStore.
Status compactRocksDbStore(StoreBackend& backend);

}  // namespace dedup
