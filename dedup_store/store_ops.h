// The operations a worker's DedupStore hands to the store thread, and the
// queue between them.
//
// Every StoreOp is completed exactly once: with its result (complete()) or an
// error (fail()), by posting its callback to the worker's loop, never inline.
// Thread-safety: LoopChannel and OpQueue are thread-safe; a StoreOp belongs to
// whichever thread holds it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/rocksdb_record.h"

namespace dedup {

// A worker's loop as the store thread reaches it. The worker's DedupStore
// detaches it on destruction: results that arrive later are destroyed without
// running (possibly on the store thread) rather than posted to a loop that may
// already be gone.
class LoopChannel {
 public:
  explicit LoopChannel(EventLoop& loop) : loop_(&loop) {}
  void post(std::function<void()> fn);
  void detach();

 private:
  Mutex loop_mutex_;
  EventLoop* loop_ GUARDED_BY(loop_mutex_);  // null once detached
};
using LoopChannelPtr = std::shared_ptr<LoopChannel>;

struct BeginOp {
  BeginRequest request;
  BeginCallback done;
};
// A commit or release reaches the store thread with its lease already
// settling (lease_table.h): `lease` is what the worker found under `token`.
struct CommitOp {
  StoreKey key;
  LeaseToken token = 0;
  StoredResponse response;
  std::chrono::milliseconds ttl{0};
  CommitCallback done;
  LeaseEntry lease{};
};
struct ReleaseOp {
  StoreKey key;
  LeaseToken token = 0;
  std::chrono::milliseconds ttl{0};
  ReleaseCallback done;
  LeaseEntry lease{};
};

struct InspectOp {
  StoreKey key;
  InspectCallback done;
};
struct ForgetOp {
  StoreKey key;
  ForgetCallback done;
};

// One result of the kind matching the op: BeginOp ↔ StatusOr<BeginResult>, …
using OpResult = std::variant<StatusOr<BeginResult>, StatusOr<CommitOutcome>, Status,
                              StatusOr<KeyState>, StatusOr<ForgetOutcome>>;

struct StoreOp {
  LoopChannelPtr channel;
  std::variant<BeginOp, CommitOp, ReleaseOp, InspectOp, ForgetOp> op;

  const StoreKey& key() const;
  // Posts the callback with `result`, which must be of the op's kind.
  void complete(OpResult result);
  // Posts the callback with `status` (not OK) as the result.
  void fail(const Status& status);
};

// Many workers push, one store thread takes batches. Bounded: a store that
// falls behind refuses work instead of growing without limit.
class OpQueue {
 public:
  explicit OpQueue(size_t capacity) : capacity_(capacity) {}
  // Queues `op` (true), or fails it with Unavailable (false): "store closed"
  // after close(), "store queue full" when `capacity` ops are waiting already
  // (counted).
  bool push(StoreOp op);
  // Ops refused because the queue was full.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Blocks until something is queued; takes up to `max_ops` in push order.
  // Empty only once the queue is closed and everything queued was taken.
  std::vector<StoreOp> takeBatch(size_t max_ops);
  // Appends to `batch` what is queued by `deadline` (taking it as soon as
  // `count` ops are waiting, or the queue closes), up to `max_ops` in all.
  void takeMore(std::vector<StoreOp>& batch, size_t count,
                std::chrono::steady_clock::time_point deadline, size_t max_ops);
  // Refuses further pushes; what is already queued can still be taken.
  void close();

 private:
  const size_t capacity_;
  std::atomic<uint64_t> refused_{0};
  Mutex ops_mutex_;
  std::condition_variable ops_ready_;
  std::deque<StoreOp> ops_ GUARDED_BY(ops_mutex_);
  bool closed_ GUARDED_BY(ops_mutex_) = false;
  // While takeMore() waits: the queue length that wakes it (0: none).
  size_t awaited_ GUARDED_BY(ops_mutex_) = 0;
};

}  // namespace dedup
