#include "dedup_store/lease_table.h"

#include <cstring>
#include <random>

namespace dedup {

size_t StoreKeyHash::operator()(const StoreKey& key) const {
  // The digest is already uniformly random.
  size_t hash;
  std::memcpy(&hash, key.digest.data(), sizeof(hash));
  return hash;
}

namespace {

uint64_t randomTokenStart() {
  std::random_device random;
  const uint64_t start = (static_cast<uint64_t>(random()) << 32) ^ random();
  return start == 0 ? 1 : start;
}

}  // namespace

LeaseTable::LeaseTable() : next_token_(randomTokenStart()) {}

StatusOr<BeginResult> LeaseTable::apply(Stripe& stripe, const StoreKey& key, BeginDecision decision,
                                        const HeldLease* replaced, const Now& now,
                                        LeaseJournal& journal) {
  if (!decision.granted) return std::move(decision.result);
  StatusOr<LeaseJournal::FileRef> journaled =
      journal.record(JournaledLease{key, decision.granted->attempt, now.wall_ms});
  if (!journaled.ok()) return journaled.status();  // the key stays as it was
  // A takeover replaces a lease that was not settling: one held either way.
  if (replaced == nullptr) unsettled_.fetch_add(1, std::memory_order_relaxed);
  stripe.leases[key] = HeldLease{*decision.granted, false, std::move(*journaled)};
  // The takeover's record supersedes the expired lease's.
  if (replaced != nullptr) LeaseJournal::settle(replaced->journal);
  return std::move(decision.result);
}

bool LeaseTable::startSettling(const StoreKey& key, LeaseToken token, LeaseEntry* lease) {
  Stripe& stripe = stripeOf(key);
  MutexLock lock(stripe.mutex);
  auto held = stripe.leases.find(key);
  if (held == stripe.leases.end() || held->second.settling || held->second.lease.token != token) {
    return false;
  }
  held->second.settling = true;
  unsettled_.fetch_sub(1, std::memory_order_relaxed);
  *lease = held->second.lease;
  return true;
}

void LeaseTable::cancelSettling(const StoreKey& key, LeaseToken token) {
  Stripe& stripe = stripeOf(key);
  MutexLock lock(stripe.mutex);
  auto held = stripe.leases.find(key);
  if (held != stripe.leases.end() && held->second.lease.token == token && held->second.settling) {
    held->second.settling = false;
    unsettled_.fetch_add(1, std::memory_order_relaxed);
  }
}

void LeaseTable::finishSettling(const StoreKey& key, LeaseToken token) {
  Stripe& stripe = stripeOf(key);
  MutexLock lock(stripe.mutex);
  auto held = stripe.leases.find(key);
  if (held == stripe.leases.end() || held->second.lease.token != token) return;
  LeaseJournal::settle(held->second.journal);
  stripe.leases.erase(held);
}

bool LeaseTable::holdForForget(const StoreKey& key) {
  Stripe& stripe = stripeOf(key);
  MutexLock lock(stripe.mutex);
  HeldLease placeholder;
  placeholder.settling = true;
  placeholder.lease.token = 0;
  return stripe.leases.emplace(key, placeholder).second;
}

std::optional<HeldLease> LeaseTable::find(const StoreKey& key) const {
  const Stripe& stripe = stripeOf(key);
  MutexLock lock(stripe.mutex);
  auto held = stripe.leases.find(key);
  if (held == stripe.leases.end()) return std::nullopt;
  return held->second;
}

std::vector<std::pair<StoreKey, LeaseEntry>> LeaseTable::takeAbandoned(
    std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration age) {
  std::vector<std::pair<StoreKey, LeaseEntry>> abandoned;
  for (Stripe& stripe : stripes_) {
    MutexLock lock(stripe.mutex);
    for (auto& [key, held] : stripe.leases) {
      if (held.settling || held.lease.deadline + age >= now) continue;
      held.settling = true;
      unsettled_.fetch_sub(1, std::memory_order_relaxed);
      abandoned.emplace_back(key, held.lease);
    }
  }
  return abandoned;
}

std::vector<std::pair<StoreKey, LeaseEntry>> LeaseTable::unsettled() const {
  std::vector<std::pair<StoreKey, LeaseEntry>> leases;
  for (const Stripe& stripe : stripes_) {
    MutexLock lock(stripe.mutex);
    for (const auto& [key, held] : stripe.leases) {
      if (!held.settling) leases.emplace_back(key, held.lease);
    }
  }
  return leases;
}

}  // namespace dedup
