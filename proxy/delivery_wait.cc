// Delivery's wait mode (a profile's `in_flight: wait`): a duplicate that
// finds its key in flight waits for that delivery's outcome instead of
// answering 409 at once.
//
// The waiter registers in the process's InFlightWaiters and then asks the
// store once more (the delivery it waits for may have finished just before
// it registered). From then on it asks again when woken (the delivery of its
// key finished, on whichever worker) and on a poll timer with backoff (the
// lease may be held by another replica sharing a Redis store, which cannot
// wake it). The store's answer decides: Committed → the replay; New → this
// delivery is the next attempt and goes to the app; InFlight → wait on. The
// wait ends at its deadline (wait_timeout, never past the lease), when the
// sender is gone, or when the proxy drains: then the in-flight answer.
#include <algorithm>

#include "common/log.h"
#include "proxy/delivery.h"
#include "proxy/profile_response.h"

namespace dedup {
namespace {

constexpr std::chrono::milliseconds kFirstPoll{50};
constexpr std::chrono::milliseconds kLongestPoll{1000};

}  // namespace

void Delivery::waitForInFlight(std::chrono::milliseconds retry_after) {
  in_flight_retry_after_ = retry_after;
  if (wait_timer_ == nullptr) {
    wait_deadline_ = Clock::now() + std::min(route_.profile.wait_timeout, route_.lease);
    wait_timer_ = context_.loop->createTimer([this] { onWaitTimer(); });
    poll_interval_ = kFirstPoll;
  }
  if (woken_while_asking_) {
    woken_while_asking_ = false;
    askStore();
    return;
  }
  if (waiter_id_ == 0) {
    waiter_id_ = context_.waiters->add(
        store_key_, *context_.loop,
        [self = shared_from_this()](InFlightWaiters::Wake why) { self->onWake(why); });
    if (waiter_id_ == 0) {
      LOG_DEBUG("too many deliveries waiting: the in-flight answer", {"route", route_.name},
                {"key", key_});
      wait_over_ = true;
      stopWaiting();
      answerInFlight();
      return;
    }
    if (!registered_once_) {
      registered_once_ = true;
      LOG_DEBUG("waiting for the delivery in flight", {"route", route_.name}, {"key", key_});
    }
    // Asked again now that a finish cannot be missed.
    askStore();
    return;
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(wait_deadline_ - Clock::now());
  wait_timer_->arm(std::max(std::chrono::milliseconds(0), std::min(poll_interval_, left)));
  poll_interval_ = std::min(poll_interval_ * 2, kLongestPoll);
}

void Delivery::onWake(InFlightWaiters::Wake why) {
  waiter_id_ = 0;  // the table let go of this waiter
  if (why == InFlightWaiters::Wake::kDraining) wait_over_ = true;
  if (begin_pending_) {
    woken_while_asking_ = true;
    return;
  }
  if (wait_over_) {
    stopWaiting();
    answerInFlight();
    return;
  }
  askStore();
}

void Delivery::onWaitTimer() {
  // Removing this waiter from the table may drop the last reference to this
  // delivery inside its own timer's callback: free it later, on the loop.
  context_.loop->post([self = shared_from_this()] {});
  const bool sender_gone = sink_.expired();
  if (sender_gone && !wait_over_) {
    LOG_DEBUG("the sender left while waiting", {"route", route_.name}, {"key", key_});
  }
  if (Clock::now() >= wait_deadline_ || sender_gone) wait_over_ = true;
  if (begin_pending_) {
    // The answer decides; a wait that is over answers in-flight then.
    if (!wait_over_) wait_timer_->arm(poll_interval_);
    return;
  }
  if (wait_over_) {
    stopWaiting();
    answerInFlight();
    return;
  }
  askStore();
}

void Delivery::stopWaiting() {
  if (waiter_id_ != 0) {
    context_.waiters->remove(store_key_, waiter_id_);
    waiter_id_ = 0;
  }
  if (wait_timer_ != nullptr) wait_timer_->disarm();
}

void Delivery::answerInFlight() {
  answer(DeliveryOutcome::kInFlight,
         profileRetryLater(route_.profile.in_flight,
                           "a delivery with this key is still being processed",
                           in_flight_retry_after_));
}

void Delivery::wakeWaiters() {
  if (context_.waiters != nullptr) context_.waiters->finished(store_key_);
}

}  // namespace dedup
