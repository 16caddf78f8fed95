#include "dedup_store/deadline_store.h"

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "common/event_loop.h"

namespace dedup {
namespace {

using Clock = std::chrono::steady_clock;

// One operation: answered by whichever comes first, the store or its deadline.
struct PendingOp {
  virtual ~PendingOp() = default;
  // Answers the operation's caller with `timeout`.
  virtual void expire(Status timeout) = 0;

  Clock::time_point deadline;
  const char* name = "";  // "begin", "commit", "release"
  bool answered = false;
  bool overdue = false;  // expired, and the store has not answered yet
};
using PendingOpPtr = std::shared_ptr<PendingOp>;

// The caller's callback lives in the op itself: one allocation per operation
// for the op, one for the callback handed to the store.
template <typename Result>
struct TrackedOp final : PendingOp {
  std::function<void(Result)> done;
  void expire(Status timeout) override { std::exchange(done, nullptr)(Result(std::move(timeout))); }
};

// What a handle shares with the callbacks it gave its store: they may run
// after the handle is gone (results already posted to the loop).
struct Tracker {
  std::shared_ptr<std::atomic<int64_t>> overdue_total;
  int64_t overdue_here = 0;          // this handle's share of overdue_total
  bool closed = false;               // the handle is gone and took its share back
  std::deque<PendingOpPtr> pending;  // oldest (earliest deadline) first

  void popAnswered() {
    while (!pending.empty() && pending.front()->answered) pending.pop_front();
  }
  void answeredLate(PendingOp& op) {
    if (!op.overdue) return;
    op.overdue = false;
    if (closed) return;
    --overdue_here;
    overdue_total->fetch_sub(1, std::memory_order_relaxed);
  }
};

class DeadlineStore final : public DedupStore {
 public:
  DeadlineStore(DedupStorePtr inner, EventLoop& loop, std::chrono::milliseconds timeout,
                std::shared_ptr<std::atomic<int64_t>> overdue)
      : inner_(std::move(inner)),
        timeout_(timeout),
        tracker_(std::make_shared<Tracker>()),
        timer_(loop.createTimer([this] { onTimer(); })) {
    tracker_->overdue_total = std::move(overdue);
  }

  ~DeadlineStore() override {
    timer_.reset();
    inner_.reset();
    tracker_->closed = true;
    tracker_->overdue_total->fetch_sub(tracker_->overdue_here, std::memory_order_relaxed);
    tracker_->overdue_here = 0;
    tracker_->pending.clear();  // dropped without running, as the contract says
  }

  void begin(const BeginRequest& request, BeginCallback done) override {
    inner_->begin(request, track<StatusOr<BeginResult>>(std::move(done), "begin"));
  }
  void commit(const StoreKey& key, LeaseToken token, StoredResponse response,
              std::chrono::milliseconds ttl, CommitCallback done) override {
    inner_->commit(key, token, std::move(response), ttl,
                   track<StatusOr<CommitOutcome>>(std::move(done), "commit"));
  }
  void release(const StoreKey& key, LeaseToken token, std::chrono::milliseconds ttl,
               ReleaseCallback done) override {
    inner_->release(key, token, ttl, track<Status>(std::move(done), "release"));
  }
  std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request) override {
    return inner_->beginNow(request);
  }
  void inspect(const StoreKey& key, InspectCallback done) override {
    inner_->inspect(key, std::move(done));
  }
  void forget(const StoreKey& key, ForgetCallback done) override {
    inner_->forget(key, std::move(done));
  }

 private:
  template <typename Result>
  std::function<void(Result)> track(std::function<void(Result)> done, const char* op) {
    auto pending = std::make_shared<TrackedOp<Result>>();
    pending->done = std::move(done);
    pending->deadline = Clock::now() + timeout_;
    pending->name = op;
    tracker_->pending.push_back(pending);
    if (!timer_->armed()) timer_->arm(timeout_);
    return [tracker = tracker_, pending](Result result) {
      tracker->answeredLate(*pending);
      if (pending->answered) return;
      pending->answered = true;
      tracker->popAnswered();
      std::exchange(pending->done, nullptr)(std::move(result));
    };
  }

  void onTimer() {
    const Clock::time_point now = Clock::now();
    std::deque<PendingOpPtr>& pending = tracker_->pending;
    while (!pending.empty()) {
      if (pending.front()->answered) {
        pending.pop_front();
        continue;
      }
      if (pending.front()->deadline > now) break;
      PendingOpPtr op = std::move(pending.front());
      pending.pop_front();
      op->answered = true;
      op->overdue = true;
      ++tracker_->overdue_here;
      tracker_->overdue_total->fetch_add(1, std::memory_order_relaxed);
      // May start new operations: they queue behind.
      op->expire(Status::Timeout(std::string("dedup store ") + op->name + " took longer than " +
                                 std::to_string(timeout_.count()) + "ms"));
    }
    if (!pending.empty()) {
      timer_->arm(std::chrono::ceil<std::chrono::milliseconds>(pending.front()->deadline - now));
    }
  }

  DedupStorePtr inner_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<Tracker> tracker_;
  TimerPtr timer_;
};

}  // namespace

DedupStorePtr withDeadlines(DedupStorePtr inner, EventLoop& loop, std::chrono::milliseconds timeout,
                            std::shared_ptr<std::atomic<int64_t>> overdue) {
  return std::make_unique<DeadlineStore>(std::move(inner), loop, timeout, std::move(overdue));
}

}  // namespace dedup
