// The newest RocksDB snapshot known to be durable, for answering replays on
// a worker's own thread, without a round trip to the store thread.
//
// The WalSyncer takes a snapshot just before each SyncWAL() and publishes it
// once the sync succeeded: everything the snapshot shows is on disk. A key
// committed there (and not expired) is committed for good — only its TTL or
// an explicit forget ends it — so its stored answer may be replayed at once.
// Anything else (absent, in flight, expired, another payload, not in memory)
// is left to the store thread, which owns the leases.
//
// Reads never touch the disk (kBlockCacheTier): a loop must not block. Once
// the store failed for good (store_failure.h) it answers nothing: every
// delivery then gets the store-error answer.
//
// Thread-safety: committed() from any thread; publish() from the syncer;
// close() once, after the syncer stopped and before the database closes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>

#include "common/mutex.h"
#include "dedup_store/dedup_store.h"

namespace rocksdb {
class DB;
class Snapshot;
}  // namespace rocksdb

namespace dedup {

class StoreFailure;

class DurableView {
 public:
  DurableView(rocksdb::DB& db, std::function<int64_t()> now_ms, const StoreFailure& failure);
  ~DurableView();  // close()
  DurableView(const DurableView&) = delete;
  DurableView& operator=(const DurableView&) = delete;

  // Takes over `snapshot` (from db.GetSnapshot()) as the durable state.
  void publish(const rocksdb::Snapshot* snapshot);
  // kCommitted with the stored answer when the durable state holds a live
  // commit of request.key that the fingerprint matches; nullopt otherwise.
  std::optional<BeginResult> committed(const BeginRequest& request) const;
  // Releases the snapshot; committed() answers nullopt from now on.
  void close();

 private:
  rocksdb::DB& db_;
  std::function<int64_t()> now_ms_;
  const StoreFailure& failure_;
  mutable SharedMutex snapshot_mutex_;
  const rocksdb::Snapshot* snapshot_ GUARDED_BY(snapshot_mutex_) = nullptr;
  bool closed_ GUARDED_BY(snapshot_mutex_) = false;
};

}  // namespace dedup
