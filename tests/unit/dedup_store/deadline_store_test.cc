// Deadlines on any DedupStore (deadline_store.h), against a store that
// answers only when the test says so.
#include "dedup_store/deadline_store.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "common/event_loop.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;

// Keeps every callback; the test answers them (on the loop) when it likes.
class SilentStore : public DedupStore {
 public:
  void begin(const BeginRequest&, BeginCallback done) override { begins.push_back(done); }
  void commit(const StoreKey&, LeaseToken, StoredResponse, milliseconds,
              CommitCallback done) override {
    commits.push_back(done);
  }
  void release(const StoreKey&, LeaseToken, milliseconds, ReleaseCallback done) override {
    releases.push_back(done);
  }
  std::vector<BeginCallback> begins;
  std::vector<CommitCallback> commits;
  std::vector<ReleaseCallback> releases;
};

class DeadlineStoreTest : public ::testing::Test {
 protected:
  DeadlineStoreTest() {
    auto inner = std::make_unique<SilentStore>();
    silent_ = inner.get();
    store_ = withDeadlines(std::move(inner), loop_, milliseconds(100), overdue_);
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~DeadlineStoreTest() override {
    onLoop([this] { store_.reset(); });
    loop_.exit();
    thread_.join();
  }
  void onLoop(std::function<void()> fn) {
    std::promise<void> done;
    loop_.post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  EventLoop loop_;
  std::shared_ptr<std::atomic<int64_t>> overdue_ = std::make_shared<std::atomic<int64_t>>(0);
  SilentStore* silent_ = nullptr;
  DedupStorePtr store_;
  std::thread thread_;
};

TEST_F(DeadlineStoreTest, AnOperationTheStoreDoesNotAnswerTimesOutOnceAndCountsAsOverdue) {
  std::promise<StatusOr<BeginResult>> result;
  std::atomic<int> calls{0};
  const auto started = std::chrono::steady_clock::now();
  onLoop([&] {
    store_->begin(BeginRequest{}, [&](StatusOr<BeginResult> r) {
      if (++calls == 1) result.set_value(std::move(r));
    });
  });
  StatusOr<BeginResult> r = result.get_future().get();
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(100));
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout);
  EXPECT_EQ(overdue_->load(), 1);

  onLoop([&] { silent_->begins[0](BeginResult{}); });  // the store answers at last
  EXPECT_EQ(calls.load(), 1) << "answered twice";
  EXPECT_EQ(overdue_->load(), 0);
}

TEST_F(DeadlineStoreTest, AnswersInTimePassThroughAndLeaveNothingOverdue) {
  std::atomic<int> ok{0};
  onLoop([&] {
    store_->commit(StoreKey{}, 1, {}, milliseconds(1), [&](StatusOr<CommitOutcome> r) {
      if (r.ok() && *r == CommitOutcome::kCommitted) ++ok;
    });
    store_->release(StoreKey{}, 1, milliseconds(1), [&](Status s) {
      if (s.ok()) ++ok;
    });
    silent_->commits[0](CommitOutcome::kCommitted);
    silent_->releases[0](Status::OK());
  });
  std::this_thread::sleep_for(milliseconds(250));  // past the deadline: nothing more may run
  onLoop([] {});
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(overdue_->load(), 0);
}

TEST_F(DeadlineStoreTest, DestroyingTheHandleGivesBackItsOverdueCount) {
  std::promise<void> expired;
  onLoop([&] {
    store_->release(StoreKey{}, 1, milliseconds(1), [&](Status) { expired.set_value(); });
  });
  expired.get_future().wait();
  EXPECT_EQ(overdue_->load(), 1);
  onLoop([&] { store_.reset(); });
  EXPECT_EQ(overdue_->load(), 0);
}

}  // namespace
}  // namespace dedup
