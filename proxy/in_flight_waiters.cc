#include "proxy/in_flight_waiters.h"

#include <algorithm>

#include "common/event_loop.h"
#include "common/mutex.h"

namespace dedup {

void InFlightWaiters::post(Waiter& waiter, Wake why) {
  waiter.loop->post([wake = std::move(waiter.wake), why] { wake(why); });
}

uint64_t InFlightWaiters::add(const StoreKey& key, EventLoop& loop, WakeFn wake) {
  MutexLock lock(waiters_mutex_);
  if (draining_ || total_ >= max_total_) return 0;
  std::vector<Waiter>& list = waiters_[std::string(key.bytes())];
  if (list.size() >= max_per_key_) return 0;
  const uint64_t id = next_id_++;
  list.push_back({id, &loop, std::move(wake)});
  ++total_;
  return id;
}

bool InFlightWaiters::remove(const StoreKey& key, uint64_t id) {
  MutexLock lock(waiters_mutex_);
  auto it = waiters_.find(std::string(key.bytes()));
  if (it == waiters_.end()) return false;
  std::vector<Waiter>& list = it->second;
  auto waiter =
      std::find_if(list.begin(), list.end(), [id](const Waiter& w) { return w.id == id; });
  if (waiter == list.end()) return false;
  list.erase(waiter);
  --total_;
  if (list.empty()) waiters_.erase(it);
  return true;
}

void InFlightWaiters::finished(const StoreKey& key) {
  // A waiter registers before it asks the store again, and a finishing
  // delivery's store write happens before this load: either this sees the
  // waiter, or the waiter's question sees the write.
  if (total_.load() == 0) return;
  std::vector<Waiter> woken;
  {
    MutexLock lock(waiters_mutex_);
    auto it = waiters_.find(std::string(key.bytes()));
    if (it == waiters_.end()) return;
    woken = std::move(it->second);
    waiters_.erase(it);
    total_ -= woken.size();
  }
  // Posted outside the lock: post() takes the loop's own lock.
  for (Waiter& waiter : woken) post(waiter, Wake::kFinished);
}

void InFlightWaiters::drain() {
  std::unordered_map<std::string, std::vector<Waiter>> woken;
  {
    MutexLock lock(waiters_mutex_);
    draining_ = true;
    woken.swap(waiters_);
    total_ = 0;
  }
  for (auto& [key, list] : woken) {
    for (Waiter& waiter : list) post(waiter, Wake::kDraining);
  }
}

size_t InFlightWaiters::size() const { return total_.load(); }

}  // namespace dedup
