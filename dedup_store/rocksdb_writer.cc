#include "dedup_store/rocksdb_writer.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/log.h"
#include "common/mutex.h"

namespace dedup {
namespace {

// A lease whose deadline passed this long ago was abandoned by its holder;
// forgetting it only means the next begin finds it on disk and takes it over.
constexpr auto kAbandonedLeaseAge = std::chrono::hours(1);
constexpr auto kSweepInterval = std::chrono::minutes(1);

rocksdb::Slice toSlice(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

size_t StoreKeyHash::operator()(const StoreKey& key) const {
  // Keys are already uniform (a SHA-256 prefix): any 8 bytes of it will do.
  size_t h;
  std::memcpy(&h, key.digest.data(), sizeof(h));
  return h;
}

// Pending writes of one batch, by key: what later ops of the batch see in
// front of the database, and the one WriteBatch (one WAL write) that will
// make it real. The group says when an op that saw a key's pending write may
// report: after the write (leases) or after the sync that follows it
// (commits); a key once in the synced group stays there.
class RocksDbWriter::Batch {
 public:
  struct Pending {
    std::optional<StoredRecord> record;  // nullopt: deleted
    Group group = Group::kNone;
  };

  const Pending* find(const StoreKey& key) const {
    auto it = pending_.find(key);
    return it == pending_.end() ? nullptr : &it->second;
  }
  Group groupOf(const StoreKey& key) const {
    const Pending* p = find(key);
    return p == nullptr ? Group::kNone : p->group;
  }

  Group put(const StoreKey& key, StoredRecord record, Group at_least) {
    Pending& p = pending_[key];
    p.group = std::max(p.group, at_least);
    writes_.Put(toSlice(key.bytes()), encodeRecord(record));
    p.record = std::move(record);
    return p.group;
  }
  Group erase(const StoreKey& key, Group at_least) {
    Pending& p = pending_[key];
    p.group = std::max(p.group, at_least);
    writes_.Delete(toSlice(key.bytes()));
    p.record.reset();
    return p.group;
  }

  rocksdb::WriteBatch& writes() { return writes_; }
  template <typename Fn>
  void forEachKeyIn(Group group, Fn fn) const {
    for (const auto& [key, pending] : pending_) {
      if (pending.group == group) fn(key);
    }
  }
  template <typename Fn>
  void forEachKey(Fn fn) const {
    for (const auto& entry : pending_) fn(entry.first);
  }

  uint64_t commits = 0;  // commits in the synced group

 private:
  std::unordered_map<StoreKey, Pending, StoreKeyHash> pending_;
  rocksdb::WriteBatch writes_;
};

struct RocksDbWriter::Decided {
  StoreOp* op;  // null once completed or failed
  OpResult result;
  Group depends;
  // Read a write of an earlier batch that is not synced yet: reported only
  // after a sync, whatever it depends on in this batch.
  bool waits_sync = false;
};

RocksDbWriter::RocksDbWriter(rocksdb::DB& db, WalFiles& wal_files, std::function<int64_t()> now_ms,
                             WriterCounters& counters, DurableView& durable, StoreFailure& failure)
    : db_(db),
      now_ms_(std::move(now_ms)),
      failure_(failure),
      last_sweep_(std::chrono::steady_clock::now()),
      syncer_(db, wal_files, counters, durable, failure, wal_write_mutex_) {}

void RocksDbWriter::process(std::vector<StoreOp>& ops) {
  if (failure_.failed()) {
    // Nothing is decided from memory that the disk may not hold, and nothing
    // more is written: RocksDB must not touch a writer that saw an error.
    const Status failed = failure_.status();
    for (StoreOp& op : ops) op.fail(failed);
    return;
  }
  const Now now{now_ms_(), std::chrono::steady_clock::now()};
  Batch batch;
  std::vector<Decided> decided;
  decided.reserve(ops.size());
  if (!unsynced_.empty()) {
    const uint64_t synced = syncer_.syncedEpoch();
    std::erase_if(unsynced_, [synced](const auto& entry) { return entry.second <= synced; });
  }
  for (StoreOp& op : ops) {
    decided.push_back(evaluate(op, now, batch));
    // It saw a write of an earlier batch that is not durable yet: the sync
    // this batch asks for covers that write too.
    decided.back().waits_sync = !unsynced_.empty() && unsynced_.count(op.key()) != 0;
  }

  for (Decided& d : decided) {
    if (d.depends == Group::kNone && !d.waits_sync) complete(d);
  }
  // One WAL write for lease and commit records, never synced here: begins
  // report after it, never waiting for other keys' fsync; commits (and what
  // read them) wait for the syncer.
  const Status written = write(batch);
  for (Decided& d : decided) {
    if (d.op == nullptr) continue;
    if (!written.ok()) {
      d.op->fail(written);
      d.op = nullptr;
    } else if (d.depends == Group::kLeases && !d.waits_sync) {
      complete(d);
    }
  }
  if (written.ok()) handToSyncer(batch, decided);
  dropAbandonedLeases(now.steady);
}

RocksDbWriter::Decided RocksDbWriter::evaluate(StoreOp& op, const Now& now, Batch& batch) {
  return std::visit(
      [&](auto& o) -> Decided {
        using Op = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<Op, BeginOp>) {
          return evaluateBegin(op, o, now, batch);
        } else if constexpr (std::is_same_v<Op, CommitOp>) {
          return evaluateCommit(op, o, now, batch);
        } else if constexpr (std::is_same_v<Op, ReleaseOp>) {
          return evaluateRelease(op, o, now, batch);
        } else if constexpr (std::is_same_v<Op, InspectOp>) {
          return evaluateInspect(op, o, now, batch);
        } else {
          return evaluateForget(op, o, now, batch);
        }
      },
      op.op);
}

RocksDbWriter::Decided RocksDbWriter::evaluateBegin(StoreOp& op, BeginOp& begin, const Now& now,
                                                    Batch& batch) {
  const StoreKey& key = begin.request.key;
  // Whatever this op saw of the batch's pending writes, it must not report
  // before they are written.
  Group depends = batch.groupOf(key);
  auto lease = leases_.find(key);
  std::optional<StoredRecord> stored;
  if (lease == leases_.end()) {
    if (const Batch::Pending* pending = batch.find(key)) {
      stored = pending->record;
    } else {
      StatusOr<std::optional<StoredRecord>> read_result = read(key);
      if (!read_result.ok()) return {&op, StatusOr<BeginResult>(read_result.status()), depends};
      stored = std::move(*read_result);
    }
  }
  BeginDecision decision =
      decideBegin(begin.request, lease == leases_.end() ? nullptr : &lease->second,
                  stored ? &*stored : nullptr, now, tokens_);
  if (decision.granted) {
    leases_[key] = *decision.granted;
    depends = batch.put(key, toRecord(*decision.granted, now.wall_ms), Group::kLeases);
  }
  return {&op, StatusOr<BeginResult>(std::move(decision.result)), depends};
}

RocksDbWriter::Decided RocksDbWriter::evaluateCommit(StoreOp& op, CommitOp& commit, const Now& now,
                                                     Batch& batch) {
  Group depends = batch.groupOf(commit.key);
  auto lease = leases_.find(commit.key);
  CommitDecision decision =
      decideCommit(lease == leases_.end() ? nullptr : &lease->second, commit.token,
                   std::move(commit.response), commit.ttl, now.wall_ms);
  if (decision.record) {
    leases_.erase(lease);
    depends = batch.put(commit.key, std::move(*decision.record), Group::kCommits);
    ++batch.commits;
  } else {
    LOG_DEBUG("commit lost its lease", {"key", commit.key.hex()});
  }
  return {&op, StatusOr<CommitOutcome>(decision.outcome), depends};
}

RocksDbWriter::Decided RocksDbWriter::evaluateRelease(StoreOp& op, ReleaseOp& release,
                                                      const Now& now, Batch& batch) {
  Group depends = batch.groupOf(release.key);
  auto lease = leases_.find(release.key);
  std::optional<ReleasedRecord> released = decideRelease(
      lease == leases_.end() ? nullptr : &lease->second, release.token, release.ttl, now.wall_ms);
  if (released) {
    leases_.erase(lease);
    // Like a lease grant: written without sync, it survives a process crash.
    depends = batch.put(release.key, *released, Group::kLeases);
  }
  return {&op, Status::OK(), depends};
}

StatusOr<std::optional<StoredRecord>> RocksDbWriter::lookup(const StoreKey& key, Batch& batch) {
  if (const Batch::Pending* pending = batch.find(key)) return pending->record;
  return read(key);
}

RocksDbWriter::Decided RocksDbWriter::evaluateInspect(StoreOp& op, InspectOp& inspect,
                                                      const Now& now, Batch& batch) {
  const Group depends = batch.groupOf(inspect.key);
  KeyState state;
  if (auto lease = leases_.find(inspect.key); lease != leases_.end()) {
    state.kind = KeyState::Kind::kInFlight;
    state.attempt = lease->second.attempt;
    state.lease_left = std::max(
        std::chrono::milliseconds(0),
        std::chrono::duration_cast<std::chrono::milliseconds>(lease->second.deadline - now.steady));
    return {&op, StatusOr<KeyState>(state), depends};
  }
  StatusOr<std::optional<StoredRecord>> stored = lookup(inspect.key, batch);
  if (!stored.ok()) return {&op, StatusOr<KeyState>(stored.status()), depends};
  if (*stored) {
    if (const auto* lease = std::get_if<LeaseRecord>(&**stored)) {
      state.kind = KeyState::Kind::kInFlight;  // left by a process that died
      state.attempt = lease->attempt;
    } else if (const auto* committed = std::get_if<CommittedRecord>(&**stored);
               committed != nullptr && committed->expires_at_ms > now.wall_ms) {
      state.kind = KeyState::Kind::kCommitted;
      state.attempt = committed->attempt;
      state.expires_at_ms = committed->expires_at_ms;
      state.status = committed->response.status;
    } else if (const auto* released = std::get_if<ReleasedRecord>(&**stored);
               released != nullptr && released->expires_at_ms > now.wall_ms) {
      state.kind = KeyState::Kind::kReleased;
      state.attempt = released->attempt;
      state.expires_at_ms = released->expires_at_ms;
    }
  }
  return {&op, StatusOr<KeyState>(state), depends};
}

RocksDbWriter::Decided RocksDbWriter::evaluateForget(StoreOp& op, ForgetOp& forget, const Now& now,
                                                     Batch& batch) {
  Group depends = batch.groupOf(forget.key);
  if (leases_.count(forget.key) != 0) {
    return {&op, StatusOr<ForgetOutcome>(ForgetOutcome::kInFlight), depends};
  }
  StatusOr<std::optional<StoredRecord>> stored = lookup(forget.key, batch);
  if (!stored.ok()) return {&op, StatusOr<ForgetOutcome>(stored.status()), depends};
  const auto* committed = *stored ? std::get_if<CommittedRecord>(&**stored) : nullptr;
  if (committed == nullptr || committed->expires_at_ms <= now.wall_ms) {
    return {&op, StatusOr<ForgetOutcome>(ForgetOutcome::kAbsent), depends};
  }
  // Synced like a commit: a forgotten key must not come back after a crash.
  depends = batch.erase(forget.key, Group::kCommits);
  return {&op, StatusOr<ForgetOutcome>(ForgetOutcome::kForgotten), depends};
}

StatusOr<std::optional<StoredRecord>> RocksDbWriter::read(const StoreKey& key) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db_.Get(rocksdb::ReadOptions(), db_.DefaultColumnFamily(), toSlice(key.bytes()), &value);
  if (s.IsNotFound()) return std::optional<StoredRecord>();
  if (!s.ok()) return Status::IOError("rocksdb read: " + s.ToString());
  StatusOr<StoredRecord> record = decodeRecord(std::string_view(value.data(), value.size()));
  if (!record.ok()) {
    return Status::Corruption("key " + key.hex() + ": " + record.status().message());
  }
  return std::optional<StoredRecord>(std::move(*record));
}

void RocksDbWriter::complete(Decided& decided) {
  decided.op->complete(std::move(decided.result));
  decided.op = nullptr;
}

Status RocksDbWriter::write(Batch& batch) {
  rocksdb::WriteBatch& writes = batch.writes();
  if (writes.Count() == 0) return Status::OK();
  MutexLock lock(wal_write_mutex_);
  const rocksdb::Status s = db_.Write(rocksdb::WriteOptions(), &writes);
  if (s.ok()) return Status::OK();
  LOG_ERROR("dedup store write failed: the store stops for good", {"error", s.ToString()});
  batch.forEachKey([this](const StoreKey& key) { leases_.erase(key); });
  const Status status = Status::IOError("rocksdb write: " + s.ToString());
  failure_.fail(status);
  return status;
}

void RocksDbWriter::handToSyncer(Batch& batch, std::vector<Decided>& decided) {
  // Whatever is left waits for a sync.
  SyncTicket ticket;
  for (Decided& d : decided) {
    if (d.op == nullptr) continue;
    ticket.results.emplace_back(std::move(*d.op), std::move(d.result));
    d.op = nullptr;
  }
  if (ticket.results.empty()) return;
  ticket.epoch = ++next_epoch_;
  ticket.commits = batch.commits;
  batch.forEachKeyIn(Group::kCommits, [&](const StoreKey& key) { unsynced_[key] = ticket.epoch; });
  syncer_.submit(std::move(ticket));
}

void RocksDbWriter::dropAbandonedLeases(std::chrono::steady_clock::time_point now) {
  if (now - last_sweep_ < kSweepInterval) return;
  last_sweep_ = now;
  std::erase_if(
      leases_, [&](const auto& entry) { return entry.second.deadline + kAbandonedLeaseAge < now; });
}

}  // namespace dedup
