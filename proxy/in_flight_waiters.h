// InFlightWaiters: deliveries that wait for another delivery of the same key
// to finish (a route's `in_flight: wait`), instead of answering 409 at once.
// A waiter costs no thread: it is an entry here plus a timer on its worker's
// loop. The delivery that finishes may run on another worker than its
// waiters, so the table is one per process and each waiter is woken on its
// own loop (EventLoop::post). Waking only says "look again": the waiter asks
// the store, which decides (a replay of the commit, or the next attempt for
// exactly one waiter after a release).
//
// Bounded: at most `max_per_key` waiters per key and `max_total` in all;
// add() refuses beyond, and the delivery gives the in-flight answer.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

class EventLoop;

class InFlightWaiters {
 public:
  enum class Wake {
    kFinished,  // a delivery of the key finished: ask the store again
    kDraining,  // the proxy is shutting down: stop waiting
  };
  // Runs on the waiter's loop, at most once per add().
  using WakeFn = std::function<void(Wake)>;

  InFlightWaiters(size_t max_per_key, size_t max_total)
      : max_per_key_(max_per_key), max_total_(max_total) {}

  // Registers a waiter for `key`, to be woken on `loop`; its id, or 0 when a
  // bound is reached (nothing registered). After drain(), always 0.
  uint64_t add(const StoreKey& key, EventLoop& loop, WakeFn wake);
  // Unregisters a waiter that stopped waiting (timeout, sender gone); true
  // when it was still registered (then its WakeFn never runs).
  bool remove(const StoreKey& key, uint64_t id);
  // A delivery of `key` committed, released or gave up its lease: every
  // waiter of `key` is woken with kFinished and unregistered.
  void finished(const StoreKey& key);
  // Shutdown: every waiter is woken with kDraining; later add()s fail.
  void drain();
  size_t size() const;

 private:
  struct Waiter {
    uint64_t id;
    EventLoop* loop;
    WakeFn wake;
  };
  static void post(Waiter& waiter, Wake why);

  const size_t max_per_key_;
  const size_t max_total_;
  mutable Mutex waiters_mutex_;
  std::unordered_map<std::string, std::vector<Waiter>> waiters_ GUARDED_BY(waiters_mutex_);
  // Written under waiters_mutex_; read without it by finished(), whose
  // common case (nobody waits anywhere) must not take a process-wide lock.
  std::atomic<size_t> total_{0};
  uint64_t next_id_ GUARDED_BY(waiters_mutex_) = 1;
  bool draining_ GUARDED_BY(waiters_mutex_) = false;
};

}  // namespace dedup
