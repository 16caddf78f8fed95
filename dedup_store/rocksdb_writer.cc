#include "dedup_store/rocksdb_writer.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <type_traits>

#include "common/log.h"
#include "dedup_store/wal_files.h"

namespace dedup {
namespace {

// A lease whose deadline passed this long ago was abandoned by its holder
// (e.g. held on after an app timeout); it leaves memory as a lease record,
// so the next begin still counts its attempt.
constexpr auto kAbandonedLeaseAge = std::chrono::hours(1);
constexpr auto kSweepInterval = std::chrono::minutes(1);

rocksdb::Slice toSlice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }

KeyState stateOf(const HeldLease& held, const Now& now) {
  KeyState state;
  state.kind = KeyState::Kind::kInFlight;
  state.attempt = held.lease.attempt;
  state.lease_left = std::max(
      std::chrono::milliseconds(0),
      std::chrono::duration_cast<std::chrono::milliseconds>(held.lease.deadline - now.steady));
  return state;
}

KeyState stateOf(const std::optional<StoredRecord>& stored, const Now& now) {
  KeyState state;
  if (!stored) return state;
  if (const auto* lease = std::get_if<LeaseRecord>(&*stored)) {
    state.kind = KeyState::Kind::kInFlight;  // left by a process that died
    state.attempt = lease->attempt;
  } else if (const auto* committed = std::get_if<CommittedRecord>(&*stored);
             committed != nullptr && committed->expires_at_ms > now.wall_ms) {
    state.kind = KeyState::Kind::kCommitted;
    state.attempt = committed->attempt;
    state.expires_at_ms = committed->expires_at_ms;
    state.status = committed->response.status;
  } else if (const auto* released = std::get_if<ReleasedRecord>(&*stored);
             released != nullptr && released->expires_at_ms > now.wall_ms) {
    state.kind = KeyState::Kind::kReleased;
    state.attempt = released->attempt;
    state.expires_at_ms = released->expires_at_ms;
  }
  return state;
}

}  // namespace

std::optional<RecordRead> readRecord(rocksdb::DB& db, const StoreKey& key, bool cached_only) {
  rocksdb::ReadOptions options;
  if (cached_only) options.read_tier = rocksdb::kBlockCacheTier;
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db.Get(options, db.DefaultColumnFamily(), toSlice(key.bytes()), &value);
  if (s.IsNotFound()) return RecordRead(std::optional<StoredRecord>());
  if (cached_only && s.IsIncomplete()) return std::nullopt;
  if (!s.ok()) return RecordRead(Status::IOError("rocksdb read: " + s.ToString()));
  StatusOr<StoredRecord> record = decodeRecord(std::string_view(value.data(), value.size()));
  if (!record.ok()) {
    return RecordRead(Status::Corruption("key " + key.hex() + ": " + record.status().message()));
  }
  return RecordRead(std::optional<StoredRecord>(std::move(*record)));
}

// An op (or a sweep, op == null) whose record is in this batch's writes; its
// lease is dropped and its result posted once they are durable.
struct RocksDbWriter::Settled {
  StoreOp* op;
  StoreKey key;
  LeaseToken token;
  OpResult result;
};

RocksDbWriter::RocksDbWriter(rocksdb::DB& db, WalFiles& wal_files, LeaseTable& leases,
                             LeaseJournalLanes& journals, std::function<int64_t()> now_ms,
                             WriterCounters& counters, StoreFailure& failure)
    : db_(db),
      wal_files_(wal_files),
      leases_(leases),
      journals_(journals),
      now_ms_(std::move(now_ms)),
      counters_(counters),
      failure_(failure),
      last_sweep_(std::chrono::steady_clock::now()) {}

void RocksDbWriter::process(std::vector<StoreOp>& ops) {
  if (failure_.failed()) {
    // Nothing is decided from memory that the disk may not hold, and nothing
    // more is written: RocksDB must not touch a writer that saw an error.
    const Status failed = failure_.status();
    for (StoreOp& op : ops) op.fail(failed);
    return;
  }
  const Now now{now_ms_(), std::chrono::steady_clock::now()};
  rocksdb::WriteBatch writes;
  std::vector<Settled> settled;
  bool needs_sync = false;
  for (StoreOp& op : ops) settle(op, now, writes, settled, needs_sync);
  sweepAbandoned(now, writes, settled);

  const Status written = write(writes, needs_sync);
  if (!written.ok()) {
    // Everything not answered yet fails with it (a forget may have been).
    for (Settled& s : settled) {
      if (s.op != nullptr) s.op->fail(written);
    }
    for (StoreOp& op : ops) {
      if (std::holds_alternative<BeginOp>(op.op) || std::holds_alternative<InspectOp>(op.op)) {
        op.fail(written);
      }
    }
    return;
  }
  uint64_t commits = 0;
  for (const Settled& s : settled) {
    commits += s.op != nullptr && std::holds_alternative<CommitOp>(s.op->op);
  }
  counters_.commits.fetch_add(commits, std::memory_order_relaxed);  // before anyone hears of them
  for (Settled& s : settled) {
    leases_.finishSettling(s.key, s.token);
    if (s.op != nullptr) s.op->complete(std::move(s.result));
  }
  // Decided after the writes and the sync, on the clock as it is now.
  const Now later{now_ms_(), std::chrono::steady_clock::now()};
  for (StoreOp& op : ops) decide(op, later);
}

void RocksDbWriter::settle(StoreOp& op, const Now& now, rocksdb::WriteBatch& writes,
                           std::vector<Settled>& settled, bool& needs_sync) {
  if (auto* commit = std::get_if<CommitOp>(&op.op)) {
    CommitDecision decision = decideCommit(&commit->lease, commit->token,
                                           std::move(commit->response), commit->ttl, now.wall_ms);
    writes.Put(toSlice(commit->key.bytes()), encodeRecord(*decision.record));
    settled.push_back({&op, commit->key, commit->token, StatusOr<CommitOutcome>(decision.outcome)});
    needs_sync = true;
  } else if (auto* release = std::get_if<ReleaseOp>(&op.op)) {
    const std::optional<ReleasedRecord> released =
        decideRelease(&release->lease, release->token, release->ttl, now.wall_ms);
    // Like a lease's crash record: written without a sync of its own.
    writes.Put(toSlice(release->key.bytes()), encodeRecord(*released));
    settled.push_back({&op, release->key, release->token, Status::OK()});
  } else if (auto* forget = std::get_if<ForgetOp>(&op.op)) {
    if (!leases_.holdForForget(forget->key)) {
      op.complete(StatusOr<ForgetOutcome>(ForgetOutcome::kInFlight));
      return;
    }
    std::optional<RecordRead> stored = readRecord(db_, forget->key, /*cached_only=*/false);
    const auto* committed =
        stored->ok() && stored->value() ? std::get_if<CommittedRecord>(&*stored->value()) : nullptr;
    if (!stored->ok() || committed == nullptr || committed->expires_at_ms <= now.wall_ms) {
      leases_.finishSettling(forget->key, 0);
      op.complete(stored->ok() ? StatusOr<ForgetOutcome>(ForgetOutcome::kAbsent)
                               : StatusOr<ForgetOutcome>(stored->status()));
      return;
    }
    // Synced like a commit: a forgotten key must not come back after a crash.
    writes.Delete(toSlice(forget->key.bytes()));
    settled.push_back({&op, forget->key, 0, StatusOr<ForgetOutcome>(ForgetOutcome::kForgotten)});
    needs_sync = true;
  }
}

void RocksDbWriter::decide(StoreOp& op, const Now& now) {
  if (auto* begin = std::get_if<BeginOp>(&op.op)) {
    const StoreKey& key = begin->request.key;
    // Warm the cache first, so the read under the key's lock finds it there
    // and workers hashing to that lock do not wait for the disk.
    (void)readRecord(db_, key, /*cached_only=*/false);
    std::optional<StatusOr<BeginResult>> result = leases_.begin(
        begin->request, now, [this](const StoreKey& k) { return readRecord(db_, k, false); },
        journals_.first());
    op.complete(std::move(*result));
  } else if (auto* inspect = std::get_if<InspectOp>(&op.op)) {
    if (std::optional<HeldLease> held = leases_.find(inspect->key)) {
      op.complete(StatusOr<KeyState>(stateOf(*held, now)));
      return;
    }
    std::optional<RecordRead> stored = readRecord(db_, inspect->key, /*cached_only=*/false);
    op.complete(stored->ok() ? StatusOr<KeyState>(stateOf(stored->value(), now))
                             : StatusOr<KeyState>(stored->status()));
  }
}

void RocksDbWriter::sweepAbandoned(const Now& now, rocksdb::WriteBatch& writes,
                                   std::vector<Settled>& settled) {
  if (now.steady - last_sweep_ < kSweepInterval) return;
  last_sweep_ = now.steady;
  for (auto& [key, lease] : leases_.takeAbandoned(now.steady, kAbandonedLeaseAge)) {
    writes.Put(toSlice(key.bytes()), encodeRecord(toRecord(lease, lease.created_ms)));
    settled.push_back({nullptr, key, lease.token, Status::OK()});
  }
}

Status RocksDbWriter::write(rocksdb::WriteBatch& writes, bool sync) {
  if (writes.Count() == 0) return Status::OK();
  // A background error (a failed flush) may have come meanwhile.
  if (failure_.failed()) return failure_.status();
  const rocksdb::Status s = db_.Write(rocksdb::WriteOptions(), &writes);
  if (!s.ok()) {
    LOG_ERROR("dedup store write failed: the store stops for good", {"error", s.ToString()});
    const Status status = Status::IOError("rocksdb write: " + s.ToString());
    failure_.fail(status);
    return status;
  }
  if (!sync) return Status::OK();
  const Status synced = wal_files_.sync();
  if (!synced.ok()) {
    LOG_ERROR("dedup store sync failed: the store stops for good", {"error", synced.ToString()});
    failure_.fail(synced);
    return synced;
  }
  counters_.syncs.fetch_add(1, std::memory_order_relaxed);
  // The lease journal is synced along with a WAL sync, at most every
  // sync_interval (lease_journal.h), and before any result of this batch is
  // posted.
  return journals_.syncIfDue(std::chrono::steady_clock::now());
}

Status RocksDbWriter::persistLeases() {
  if (failure_.failed()) return failure_.status();
  rocksdb::WriteBatch writes;
  for (const auto& [key, lease] : leases_.unsettled()) {
    writes.Put(toSlice(key.bytes()), encodeRecord(toRecord(lease, lease.created_ms)));
  }
  if (writes.Count() != 0) {
    if (Status written = write(writes, /*sync=*/true); !written.ok()) return written;
  }
  return journals_.dropAll();
}

}  // namespace dedup
