#include "dedup_store/wal_syncer.h"

#include <rocksdb/db.h>

#include "common/log.h"
#include "dedup_store/durable_view.h"
#include "dedup_store/rocksdb_writer.h"

namespace dedup {

WalSyncer::WalSyncer(rocksdb::DB& db, WriterCounters& counters, DurableView& durable)
    : db_(db), counters_(counters), durable_(durable), thread_([this] { run(); }) {}

WalSyncer::~WalSyncer() { stop(); }

void WalSyncer::submit(SyncTicket ticket) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(tickets_mutex_);
    was_empty = tickets_.empty();
    tickets_.push_back(std::move(ticket));
  }
  if (was_empty) tickets_ready_.notify_one();  // after the unlock: no wake into a held mutex
}

void WalSyncer::stop() {
  {
    std::lock_guard<std::mutex> lock(tickets_mutex_);
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
      std::unique_lock<std::mutex> lock(tickets_mutex_);
      tickets_ready_.wait(lock, [this] { return !tickets_.empty() || stopping_; });
      if (tickets_.empty()) return;  // stopping, and nothing left
      tickets.swap(tickets_);
    }
    // One sync for every ticket taken: each was submitted after its writes.
    // Taken before the sync, the snapshot shows only what the sync covers.
    const rocksdb::Snapshot* snapshot = db_.GetSnapshot();
    const rocksdb::Status s = db_.SyncWAL();
    counters_.last_write_ok.store(s.ok());
    if (s.ok()) {
      durable_.publish(snapshot);
    } else {
      db_.ReleaseSnapshot(snapshot);
    }
    Status status;
    uint64_t commits = 0;
    if (s.ok()) {
      for (const SyncTicket& ticket : tickets) commits += ticket.commits;
      counters_.syncs.fetch_add(1);
      counters_.commits.fetch_add(commits);
    } else {
      status = Status::IOError("rocksdb wal sync: " + s.ToString());
      LOG_ERROR("dedup store sync failed", {"error", s.ToString()});
    }
    for (SyncTicket& ticket : tickets) {
      for (auto& [op, result] : ticket.results) {
        if (status.ok()) {
          op.complete(std::move(result));
        } else {
          op.fail(status);
        }
      }
    }
    synced_epoch_.store(tickets.back().epoch, std::memory_order_release);
  }
}

}  // namespace dedup
