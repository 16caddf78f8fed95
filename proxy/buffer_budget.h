// BufferBudget: one process-wide cap on the bytes the proxy holds for
// senders (requests being read or delivered, answers not yet sent), shared by
// every worker, so a thousand connections cannot each buffer up to their own
// limits at once. A new request that would take the total over the cap gets
// 503 + Retry-After; bytes already held (an app's answer) are counted with
// force() and only delay new requests.
//
// BufferCharge is one holder's share: move-only, released when destroyed.
// Thread-safety: BufferBudget is lock-free (atomics) and safe from any
// thread; a BufferCharge belongs to one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>

namespace dedup {

class BufferBudget {
 public:
  explicit BufferBudget(uint64_t limit) : limit_(limit) {}
  BufferBudget(const BufferBudget&) = delete;
  BufferBudget& operator=(const BufferBudget&) = delete;

  // Takes `bytes` if the total stays within the limit; false otherwise.
  bool tryReserve(uint64_t bytes);
  // Takes `bytes` whatever the total: for bytes already in memory.
  void force(uint64_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  void release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

class BufferCharge {
 public:
  BufferCharge() = default;
  explicit BufferCharge(BufferBudget& budget) : budget_(&budget) {}
  ~BufferCharge() { reset(); }
  BufferCharge(BufferCharge&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
    other.bytes_ = 0;
  }
  BufferCharge& operator=(BufferCharge&& other) noexcept;
  BufferCharge(const BufferCharge&) = delete;
  BufferCharge& operator=(const BufferCharge&) = delete;

  // Grows the charge by `bytes` if the budget allows; false (unchanged) otherwise.
  bool tryGrow(uint64_t bytes);
  // Sets the charge to `bytes`, past the limit if need be (bytes already held).
  void forceTo(uint64_t bytes);
  // Gives everything back.
  void reset() { forceTo(0); }
  uint64_t bytes() const { return bytes_; }

 private:
  BufferBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace dedup
