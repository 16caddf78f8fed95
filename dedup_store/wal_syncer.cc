#include "dedup_store/wal_syncer.h"

#include <rocksdb/db.h>

#include "common/log.h"
#include "common/mutex.h"
#include "dedup_store/durable_view.h"
#include "dedup_store/rocksdb_writer.h"
#include "dedup_store/store_failure.h"
#include "dedup_store/wal_files.h"

namespace dedup {

WalSyncer::WalSyncer(rocksdb::DB& db, WalFiles& wal_files, WriterCounters& counters,
                     DurableView& durable, StoreFailure& failure, Mutex& wal_write_mutex)
    : db_(db),
      wal_files_(wal_files),
      counters_(counters),
      durable_(durable),
      failure_(failure),
      wal_write_mutex_(wal_write_mutex),
      thread_([this] { run(); }) {}

Status WalSyncer::sync() {
  {
    // A write that failed recorded it before letting go of the mutex.
    MutexLock lock(wal_write_mutex_);
    if (failure_.failed()) return failure_.status();
  }
  // Taken before the sync, the snapshot shows only what the sync covers.
  const rocksdb::Snapshot* snapshot = db_.GetSnapshot();
  const Status status = wal_files_.sync();
  if (!status.ok()) {
    db_.ReleaseSnapshot(snapshot);
    LOG_ERROR("dedup store sync failed: the store stops for good", {"error", status.ToString()});
    failure_.fail(status);
    return status;
  }
  durable_.publish(snapshot);
  return Status::OK();
}

WalSyncer::~WalSyncer() { stop(); }

void WalSyncer::submit(SyncTicket ticket) {
  bool was_empty;
  {
    MutexLock lock(tickets_mutex_);
    was_empty = tickets_.empty();
    tickets_.push_back(std::move(ticket));
  }
  if (was_empty) tickets_ready_.notify_one();  // after the unlock: no wake into a held mutex
}

void WalSyncer::stop() {
  {
    MutexLock lock(tickets_mutex_);
    if (stopping_) return;
    stopping_ = true;
    tickets_ready_.notify_one();
  }
  thread_.join();
}

void WalSyncer::run() {
  for (;;) {
    std::deque<SyncTicket> tickets;
    {
      MutexLock lock(tickets_mutex_);
      tickets_ready_.wait(lock.native(), [this]() REQUIRES(tickets_mutex_) {
        return !tickets_.empty() || stopping_;
      });
      if (tickets_.empty()) return;  // stopping, and nothing left
      tickets.swap(tickets_);
    }
    // One sync for every ticket taken: each was submitted after its writes.
    // After a failure, none: the tickets fail with it.
    const Status status = failure_.failed() ? failure_.status() : sync();
    if (!status.ok()) {
      for (SyncTicket& ticket : tickets) {
        for (auto& [op, result] : ticket.results) op.fail(status);
      }
      continue;  // the synced epoch stays where the last good sync left it
    }
    uint64_t commits = 0;
    for (const SyncTicket& ticket : tickets) commits += ticket.commits;
    counters_.syncs.fetch_add(1);
    counters_.commits.fetch_add(commits);
    for (SyncTicket& ticket : tickets) {
      for (auto& [op, result] : ticket.results) op.complete(std::move(result));
    }
    synced_epoch_.store(tickets.back().epoch, std::memory_order_release);
  }
}

}  // namespace dedup
