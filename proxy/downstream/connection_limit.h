// ConnectionLimit: the cap on downstream connections across all workers.
// A worker takes a place before it serves an accepted socket and gives it
// back when the connection closes; over the cap the socket is answered 503
// and closed at once. Thread-safety: lock-free, any thread.
#pragma once

#include <atomic>
#include <cstddef>

namespace dedup {

class ConnectionLimit {
 public:
  explicit ConnectionLimit(size_t max) : max_(max) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  bool tryAcquire() {
    size_t open = open_.load(std::memory_order_relaxed);
    do {
      if (open >= max_) return false;
    } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
    return true;
  }
  void release() { open_.fetch_sub(1, std::memory_order_relaxed); }
  size_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  const size_t max_;
  std::atomic<size_t> open_{0};
};

}  // namespace dedup
