#include "dedup_store/durable_view.h"

#include <rocksdb/db.h>

#include <mutex>
#include <utility>

#include "common/mutex.h"
#include "dedup_store/rocksdb_record.h"
#include "dedup_store/store_failure.h"

namespace dedup {

DurableView::DurableView(rocksdb::DB& db, std::function<int64_t()> now_ms,
                         const StoreFailure& failure)
    : db_(db), now_ms_(std::move(now_ms)), failure_(failure) {}

DurableView::~DurableView() { close(); }

void DurableView::publish(const rocksdb::Snapshot* snapshot) {
  const rocksdb::Snapshot* old;
  {
    WriterLock lock(snapshot_mutex_);
    if (closed_) {
      old = snapshot;
    } else {
      old = snapshot_;
      snapshot_ = snapshot;
    }
  }
  // No reader still uses `old`: they read under the shared lock.
  if (old != nullptr) db_.ReleaseSnapshot(old);
}

std::optional<BeginResult> DurableView::committed(const BeginRequest& request) const {
  rocksdb::PinnableSlice value;
  {
    ReaderLock lock(snapshot_mutex_);
    if (snapshot_ == nullptr || failure_.failed()) return std::nullopt;
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    options.read_tier = rocksdb::kBlockCacheTier;  // Incomplete rather than a disk read
    const std::string_view key = request.key.bytes();
    const rocksdb::Status s =
        db_.Get(options, db_.DefaultColumnFamily(), rocksdb::Slice(key.data(), key.size()), &value);
    if (!s.ok()) return std::nullopt;
  }
  StatusOr<StoredRecord> record = decodeRecord(std::string_view(value.data(), value.size()));
  if (!record.ok()) return std::nullopt;  // the store thread reports the corruption
  auto* committed = std::get_if<CommittedRecord>(&*record);
  if (committed == nullptr || committed->expires_at_ms <= now_ms_()) return std::nullopt;
  if (payloadDiffers(request.fingerprint, committed->fingerprint)) {
    return std::nullopt;  // a mismatch: the store thread answers it, as always
  }
  BeginResult result;
  result.outcome = BeginResult::Outcome::kCommitted;
  result.attempt = committed->attempt;
  result.response = std::move(committed->response);
  return result;
}

void DurableView::close() {
  const rocksdb::Snapshot* old;
  {
    WriterLock lock(snapshot_mutex_);
    closed_ = true;
    old = std::exchange(snapshot_, nullptr);
  }
  if (old != nullptr) db_.ReleaseSnapshot(old);
}

}  // namespace dedup
