// LeaseTable: the RocksDB store's leases in memory, striped (DESIGN.md
// "Threading"), so a worker decides a begin on its own thread and the store
// thread is left with what must reach the disk.
//
// A key's stripe lock is held across everything that decides its state: the
// lease lookup, the database read when it holds no lease, and the grant with
// its crash record (lease_journal.h). Whoever changes a key's record in the
// database marks its lease settling first and drops it only once the new
// record is there (synced, for a commit or forget), so a begin always sees
// the lease or the record, never neither, and never a commit before its sync.
// A begin that meets a settling lease answers in flight.
//
// Thread-safety: every method from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/lease_journal.h"
#include "dedup_store/rocksdb_record.h"

namespace dedup {

struct StoreKeyHash {
  size_t operator()(const StoreKey& key) const;
};

// A lease as the table holds it.
struct HeldLease {
  LeaseEntry lease;
  // Its key's next record is on its way to the database: no takeover, no
  // second commit or release; begins answer in flight.
  bool settling = false;
  LeaseJournal::FileRef journal;  // its crash record's file; null: none
};

// What a database read gives a decision: the record, none, or "would block"
// (nullopt outside), which leaves the decision to a thread that may wait.
using RecordRead = StatusOr<std::optional<StoredRecord>>;

class LeaseTable {
 public:
  LeaseTable();

  // Decides a begin (rocksdb_record.h decideBegin): from the key's lease, or,
  // when it holds none, from `read(key)` — called with the stripe locked, so
  // it must not wait long: a worker passes a read that answers nullopt rather
  // than touch the disk, and then gets nullopt here. A grant is recorded in
  // `journal` (the caller's lane) before the lock is let go.
  template <typename Read>
  std::optional<StatusOr<BeginResult>> begin(const BeginRequest& request, const Now& now,
                                             Read&& read, LeaseJournal& journal);

  // In flight under `token` and not settling: marks it settling, copies it to
  // `lease` and answers true. False: the token lost the key (kLeaseLost).
  bool startSettling(const StoreKey& key, LeaseToken token, LeaseEntry* lease);
  // The settling that startSettling() began will not happen after all.
  void cancelSettling(const StoreKey& key, LeaseToken token);
  // The key's new record is in the database: drops the lease and its crash record.
  void finishSettling(const StoreKey& key, LeaseToken token);
  // For a forget: holds the key (settling, token 0) while its delete is on
  // its way, and answers true; false when a delivery holds a lease on it.
  bool holdForForget(const StoreKey& key);

  // The key's lease, if any (for the admin API).
  std::optional<HeldLease> find(const StoreKey& key) const;
  // Leases whose deadline passed `age` ago and that nobody settles: marked
  // settling, for the caller to write as lease records and then finish.
  std::vector<std::pair<StoreKey, LeaseEntry>> takeAbandoned(
      std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration age);
  // Leases held by deliveries at the app now (not settling): commits to come.
  size_t unsettledCount() const { return unsettled_.load(std::memory_order_relaxed); }
  // Every lease not settling (at close), to write as lease records.
  std::vector<std::pair<StoreKey, LeaseEntry>> unsettled() const;

 private:
  static constexpr size_t kStripes = 256;
  struct Stripe {
    mutable Mutex mutex;
    std::unordered_map<StoreKey, HeldLease, StoreKeyHash> leases GUARDED_BY(mutex);
  };
  Stripe& stripeOf(const StoreKey& key) { return stripes_[key.digest[0] % kStripes]; }
  const Stripe& stripeOf(const StoreKey& key) const { return stripes_[key.digest[0] % kStripes]; }
  // Applies a decision made under `stripe`'s lock: keeps and journals a grant.
  StatusOr<BeginResult> apply(Stripe& stripe, const StoreKey& key, BeginDecision decision,
                              const HeldLease* replaced, const Now& now, LeaseJournal& journal)
      REQUIRES(stripe.mutex);

  std::atomic<uint64_t> next_token_;
  std::atomic<size_t> unsettled_{0};
  std::array<Stripe, kStripes> stripes_;
};

template <typename Read>
std::optional<StatusOr<BeginResult>> LeaseTable::begin(const BeginRequest& request, const Now& now,
                                                       Read&& read, LeaseJournal& journal) {
  Stripe& stripe = stripeOf(request.key);
  MutexLock lock(stripe.mutex);
  auto held = stripe.leases.find(request.key);
  if (held != stripe.leases.end()) {
    if (held->second.settling) {
      BeginResult in_flight;
      in_flight.outcome = BeginResult::Outcome::kInFlight;
      in_flight.retry_after = std::max(
          std::chrono::milliseconds(1),
          std::chrono::ceil<std::chrono::milliseconds>(held->second.lease.deadline - now.steady));
      return StatusOr<BeginResult>(in_flight);
    }
    const HeldLease replaced = held->second;
    TokenSource tokens(next_token_.fetch_add(1, std::memory_order_relaxed));
    return apply(stripe, request.key, decideBegin(request, &replaced.lease, nullptr, now, tokens),
                 &replaced, now, journal);
  }
  std::optional<RecordRead> stored = read(request.key);
  if (!stored) return std::nullopt;
  if (!stored->ok()) return StatusOr<BeginResult>(stored->status());
  const std::optional<StoredRecord>& record = stored->value();
  TokenSource tokens(next_token_.fetch_add(1, std::memory_order_relaxed));
  return apply(stripe, request.key,
               decideBegin(request, nullptr, record ? &*record : nullptr, now, tokens), nullptr,
               now, journal);
}

}  // namespace dedup
