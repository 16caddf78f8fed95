#include "proxy/buffer_budget.h"

#include <utility>

namespace dedup {

bool BufferBudget::tryReserve(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

BufferCharge& BufferCharge::operator=(BufferCharge&& other) noexcept {
  if (this != &other) {
    reset();
    budget_ = other.budget_;
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool BufferCharge::tryGrow(uint64_t bytes) {
  if (budget_ == nullptr || bytes == 0) return true;
  if (!budget_->tryReserve(bytes)) return false;
  bytes_ += bytes;
  return true;
}

void BufferCharge::forceTo(uint64_t bytes) {
  if (budget_ == nullptr || bytes == bytes_) return;
  if (bytes > bytes_) {
    budget_->force(bytes - bytes_);
  } else {
    budget_->release(bytes_ - bytes);
  }
  bytes_ = bytes;
}

}  // namespace dedup
