// StoreFailure: whether the RocksDB store failed for good, and why.
//
// A failed sync (EIO, ENOSPC) or a RocksDB background error means the disk
// may no longer hold what the store wrote, including earlier unsynced writes
// (Linux drops the dirty pages after a failed fsync), and RocksDB's writers
// must not be used again: after an I/O error a WritableFileWriter asserts on
// its next use (Debian builds RocksDB with assertions on). So the first
// failure is final: every later operation fails with it, nothing more is
// written or synced, nothing is replayed, and the process recovers from what
// is on disk by restarting (README "Guarantee").
//
// Thread-safety: all methods from any thread.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "common/mutex.h"
#include "common/status.h"

namespace dedup {

class StoreFailure {
 public:
  // Records `reason` unless a failure was recorded already (the first wins).
  void fail(const Status& reason) {
    MutexLock lock(reason_mutex_);
    if (failed_.load(std::memory_order_relaxed)) return;
    reason_ = Status::Unavailable("dedup store failed for good: " + reason.ToString());
    failed_.store(true, std::memory_order_release);
  }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // OK until fail(); then Unavailable naming the first failure.
  Status status() const {
    if (!failed()) return Status::OK();
    MutexLock lock(reason_mutex_);
    return reason_;
  }

 private:
  std::atomic<bool> failed_{false};
  mutable Mutex reason_mutex_;
  Status reason_ GUARDED_BY(reason_mutex_);
};

}  // namespace dedup
