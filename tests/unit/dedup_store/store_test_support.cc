#include "store_test_support.h"

#include <unistd.h>

#include <cstdlib>

namespace dedup::testing {

TempDir::TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "dedup_store_test_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

LoopWorker::LoopWorker(StoreBackend& backend) : store_(backend.attach(loop_)) {
  std::promise<void> started;
  thread_ = std::thread([this, &started] {
    loop_thread_id_ = std::this_thread::get_id();
    started.set_value();
    loop_.run();
  });
  started.get_future().wait();
}

LoopWorker::~LoopWorker() {
  run([](std::unique_ptr<DedupStore>& store) { store.reset(); });
  loop_.post([this] { loop_.exit(); });
  thread_.join();
  EXPECT_EQ(violations_.load(), 0) << "callbacks ran inline or off the loop thread";
}

void LoopWorker::run(const std::function<void(std::unique_ptr<DedupStore>&)>& fn) {
  std::promise<void> ran;
  loop_.post([&] {
    in_call_ = true;
    fn(store_);
    in_call_ = false;
    ran.set_value();
  });
  await(ran.get_future());
}

void LoopWorker::drain() {
  run([](std::unique_ptr<DedupStore>&) {});
}

std::future<StatusOr<BeginResult>> LoopWorker::begin(const BeginRequest& request) {
  auto promise = std::make_shared<std::promise<StatusOr<BeginResult>>>();
  run([&](std::unique_ptr<DedupStore>& store) {
    store->begin(request, checked<StatusOr<BeginResult>>([promise](StatusOr<BeginResult> r) {
                   promise->set_value(std::move(r));
                 }));
  });
  return promise->get_future();
}

std::optional<StatusOr<BeginResult>> LoopWorker::beginNow(const BeginRequest& request) {
  std::optional<StatusOr<BeginResult>> result;
  run([&](std::unique_ptr<DedupStore>& store) { result = store->beginNow(request); });
  return result;
}

std::future<StatusOr<CommitOutcome>> LoopWorker::commit(const StoreKey& key, LeaseToken token,
                                                        const StoredResponse& response,
                                                        std::chrono::milliseconds ttl) {
  auto promise = std::make_shared<std::promise<StatusOr<CommitOutcome>>>();
  run([&](std::unique_ptr<DedupStore>& store) {
    store->commit(key, token, response, ttl,
                  checked<StatusOr<CommitOutcome>>(
                      [promise](StatusOr<CommitOutcome> r) { promise->set_value(std::move(r)); }));
  });
  return promise->get_future();
}

std::future<Status> LoopWorker::release(const StoreKey& key, LeaseToken token,
                                        std::chrono::milliseconds ttl) {
  auto promise = std::make_shared<std::promise<Status>>();
  run([&](std::unique_ptr<DedupStore>& store) {
    store->release(key, token, ttl,
                   checked<Status>([promise](Status s) { promise->set_value(std::move(s)); }));
  });
  return promise->get_future();
}

}  // namespace dedup::testing
