#include "dedup_store/store_ops.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include "common/event_loop.h"
#include "common/mutex.h"

namespace dedup {
namespace {

template <typename Callback, typename Result>
void postCallback(LoopChannel& channel, Callback done, Result result) {
  channel.post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

template <typename T>
T take(OpResult& result) {
  if (T* value = std::get_if<T>(&result)) return std::move(*value);
  // A result of the wrong kind is a bug in the store thread, not bad input.
  std::fprintf(stderr, "dedup-proxy: store op completed with a result of the wrong kind\n");
  std::abort();
}

}  // namespace

void LoopChannel::post(std::function<void()> fn) {
  MutexLock lock(loop_mutex_);
  if (loop_ != nullptr) loop_->post(std::move(fn));
}

void LoopChannel::detach() {
  MutexLock lock(loop_mutex_);
  loop_ = nullptr;
}

const StoreKey& StoreOp::key() const {
  return std::visit(
      [](const auto& o) -> const StoreKey& {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, BeginOp>) {
          return o.request.key;
        } else {
          return o.key;
        }
      },
      op);
}

void StoreOp::complete(OpResult result) {
  std::visit(
      [&](auto& o) {
        using Op = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<Op, BeginOp>) {
          postCallback(*channel, std::move(o.done), take<StatusOr<BeginResult>>(result));
        } else if constexpr (std::is_same_v<Op, CommitOp>) {
          postCallback(*channel, std::move(o.done), take<StatusOr<CommitOutcome>>(result));
        } else if constexpr (std::is_same_v<Op, InspectOp>) {
          postCallback(*channel, std::move(o.done), take<StatusOr<KeyState>>(result));
        } else if constexpr (std::is_same_v<Op, ForgetOp>) {
          postCallback(*channel, std::move(o.done), take<StatusOr<ForgetOutcome>>(result));
        } else {
          postCallback(*channel, std::move(o.done), take<Status>(result));
        }
      },
      op);
}

void StoreOp::fail(const Status& status) {
  std::visit(
      [&](auto& o) {
        using Op = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<Op, BeginOp>) {
          postCallback(*channel, std::move(o.done), StatusOr<BeginResult>(status));
        } else if constexpr (std::is_same_v<Op, CommitOp>) {
          postCallback(*channel, std::move(o.done), StatusOr<CommitOutcome>(status));
        } else if constexpr (std::is_same_v<Op, InspectOp>) {
          postCallback(*channel, std::move(o.done), StatusOr<KeyState>(status));
        } else if constexpr (std::is_same_v<Op, ForgetOp>) {
          postCallback(*channel, std::move(o.done), StatusOr<ForgetOutcome>(status));
        } else {
          postCallback(*channel, std::move(o.done), status);
        }
      },
      op);
}

bool OpQueue::push(StoreOp op) {
  bool closed;
  bool full = false;
  bool wake = false;
  {
    MutexLock lock(ops_mutex_);
    closed = closed_;
    full = !closed && ops_.size() >= capacity_;
    if (!closed && !full) {
      const bool was_empty = ops_.empty();
      ops_.push_back(std::move(op));
      wake = was_empty || (awaited_ != 0 && ops_.size() == awaited_);
    }
  }
  if (closed) {
    op.fail(Status::Unavailable("store closed"));
    return false;
  }
  if (full) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    op.fail(Status::Unavailable("dedup store queue full (" + std::to_string(capacity_) +
                                " operations waiting)"));
    return false;
  }
  if (wake) {
    // The store thread waits on an empty queue, or, lingering, for the
    // length takeMore() asked for. Notified after the unlock, so it does not
    // wake only to block on the mutex still held here.
    ops_ready_.notify_one();
  }
  return true;
}

std::vector<StoreOp> OpQueue::takeBatch(size_t max_ops) {
  MutexLock lock(ops_mutex_);
  ops_ready_.wait(lock.native(),
                  [this]() REQUIRES(ops_mutex_) { return !ops_.empty() || closed_; });
  std::vector<StoreOp> batch;
  const size_t count = std::min(max_ops, ops_.size());
  batch.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    batch.push_back(std::move(ops_.front()));
    ops_.pop_front();
  }
  return batch;
}

void OpQueue::takeMore(std::vector<StoreOp>& batch, size_t count,
                       std::chrono::steady_clock::time_point deadline, size_t max_ops) {
  MutexLock lock(ops_mutex_);
  awaited_ = count;
  ops_ready_.wait_until(lock.native(), deadline, [this, count]() REQUIRES(ops_mutex_) {
    return ops_.size() >= count || closed_;
  });
  awaited_ = 0;
  while (!ops_.empty() && batch.size() < max_ops) {
    batch.push_back(std::move(ops_.front()));
    ops_.pop_front();
  }
}

void OpQueue::close() {
  MutexLock lock(ops_mutex_);
  closed_ = true;
  ops_ready_.notify_all();
}

}  // namespace dedup
