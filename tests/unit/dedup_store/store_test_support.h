// Test support for the store tests: a temp directory, a settable clock, and a
// LoopWorker — a real EventLoop on its own thread with a DedupStore attached,
// whose calls are made on the loop's thread and whose results come back as
// futures. LoopWorker checks the DedupStore contract on every callback: it
// runs on the loop's thread, never inside the call that started it.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/event_loop.h"
#include "dedup_store/dedup_store.h"

namespace dedup::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class FakeClock {
 public:
  std::function<int64_t()> fn() {
    return [this] { return ms_.load(); };
  }
  int64_t now() const { return ms_.load(); }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<int64_t> ms_{1'700'000'000'000};
};

// Waits for `future` (failing the test and aborting after a long timeout, so
// a lost callback cannot hang the suite).
template <typename T>
T await(std::future<T> future) {
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "store callback never ran";
    std::abort();
  }
  return future.get();
}

class LoopWorker {
 public:
  explicit LoopWorker(StoreBackend& backend);
  ~LoopWorker();  // destroys the store on the loop's thread, then stops the loop

  std::future<StatusOr<BeginResult>> begin(const BeginRequest& request);
  // DedupStore::beginNow() on the loop's thread.
  std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request);
  std::future<StatusOr<CommitOutcome>> commit(const StoreKey& key, LeaseToken token,
                                              const StoredResponse& response,
                                              std::chrono::milliseconds ttl);
  std::future<Status> release(const StoreKey& key, LeaseToken token,
                              std::chrono::milliseconds ttl = std::chrono::hours(24));

  // Runs `fn` on the loop's thread with the worker's store (null once
  // destroyStore() ran) and waits for it to return.
  void run(const std::function<void(std::unique_ptr<DedupStore>&)>& fn);
  // Waits until everything posted to the loop so far has run.
  void drain();
  // Wraps `done` with the contract checks; use inside run().
  template <typename Result>
  std::function<void(Result)> checked(std::function<void(Result)> done);

  int contractViolations() const { return violations_.load(); }

 private:
  std::thread::id loopThread() const { return loop_thread_id_.load(); }

  EventLoop loop_;
  std::unique_ptr<DedupStore> store_;  // touched on the loop's thread only
  std::atomic<bool> in_call_{false};
  std::atomic<int> violations_{0};
  std::atomic<std::thread::id> loop_thread_id_{};
  std::thread thread_;
};

template <typename Result>
std::function<void(Result)> LoopWorker::checked(std::function<void(Result)> done) {
  return [this, done = std::move(done)](Result result) {
    if (in_call_.load() || std::this_thread::get_id() != loopThread()) ++violations_;
    done(std::move(result));
  };
}

inline BeginRequest beginRequest(std::string_view key,
                                 std::chrono::milliseconds lease = std::chrono::seconds(30),
                                 Fingerprint fingerprint = {}) {
  BeginRequest request;
  request.key = StoreKey::of("test", key);
  request.fingerprint = fingerprint;
  request.lease = lease;
  return request;
}

}  // namespace dedup::testing
