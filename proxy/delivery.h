// Delivery: one request's way through the data path of DESIGN.md: key
// extraction, store begin, forwarding to the app, commit or release, and the
// answer to the sender. Counted exactly once in
// dedup_proxy_deliveries_total when it answers.
//
// An app body over --max-stored-body streams from the app to the sender once
// the commit (or release) is done: nothing of the answer reaches the sender
// before the commit is durable (DESIGN.md), and the body then flows with the
// sender's flow control (ResponseSink::sendBody / UpstreamBody::pause).
//
// Lifetime: shared; every pending store or upstream callback holds it, so it
// lives until the last of them has run, whether or not the sender is still
// connected (its ResponseSink is held weakly). Thread-safety: one worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "common/http_message.h"
#include "dedup_store/dedup_store.h"
#include "metrics/metrics.h"
#include "proxy/buffer_budget.h"
#include "proxy/config/config.h"
#include "proxy/config/route.h"
#include "proxy/in_flight_waiters.h"
#include "proxy/response_sink.h"
#include "proxy/upstream/upstream.h"

namespace dedup {

// A worker's services, shared by all its deliveries.
struct DeliveryContext {
  DedupStore& store;
  Upstream& upstream;
  StoreMetrics& store_metrics;
  const Config& config;
  // Deliveries alive on this worker, read by the drain at shutdown.
  std::atomic<size_t> active_deliveries{0};
  // Wait mode (a profile's `in_flight: wait`): the worker's loop and the
  // process's table of waiting deliveries. Null: duplicates in flight get
  // the in-flight answer at once.
  EventLoop* loop = nullptr;
  InFlightWaiters* waiters = nullptr;
};

class Delivery : public std::enable_shared_from_this<Delivery> {
 public:
  Delivery(DeliveryContext& context, const Route& route, Request request,
           std::weak_ptr<ResponseSink> sink, uint64_t slot, std::string peer_address);

  ~Delivery();

  void start();
  // Keeps the request's bytes charged to the buffer budget until this ends.
  void holdCharge(BufferCharge charge) { charge_ = std::move(charge); }

 private:
  using Clock = std::chrono::steady_clock;

  void askStore();
  void onBegin(StatusOr<BeginResult> result);
  // Wait mode: a duplicate in flight waits for the delivery at the app.
  void waitForInFlight(std::chrono::milliseconds retry_after);
  void onWake(InFlightWaiters::Wake why);
  void onWaitTimer();
  void stopWaiting();
  void answerInFlight();
  // This delivery's lease is gone (committed, released, kept to expire):
  // deliveries of the same key waiting for it ask the store again.
  void wakeWaiters();
  void forward();
  void onUpstream(UpstreamResult result);
  void commit(Response app_response);
  // Releases the lease (unless `keep_lease`), then answers.
  void releaseAndAnswer(DeliveryOutcome outcome, Response response, bool keep_lease = false);
  void answer(DeliveryOutcome outcome, Response response);
  // The answer's body streams from the app (body_ set).
  void streamAnswer(const std::shared_ptr<ResponseSink>& sink, Response head);
  void onBodyData(std::string_view bytes);
  void onBodyEnd();
  void onBodyError(std::string error);
  void cancelBody();
  void prepareForApp();
  std::string_view logKey() const { return key_; }

  DeliveryContext& context_;
  const Route& route_;
  Request request_;
  std::weak_ptr<ResponseSink> sink_;
  uint64_t slot_;
  std::string peer_address_;

  std::string key_;
  StoreKey store_key_;
  LeaseToken token_ = 0;
  uint32_t attempt_ = 0;
  bool holds_lease_ = false;
  bool store_failed_open_ = false;
  // The app's answer body still to stream, and its length if announced.
  UpstreamBodyPtr body_;
  std::optional<uint64_t> body_length_;
  // The sink cannot stream: the body is collected here, then respond().
  std::optional<Response> collected_;
  // The app acked, then broke off: the sender's stream is cut, not answered.
  bool cut_answer_ = false;
  Clock::time_point upstream_start_;
  BufferCharge charge_;
  BeginRequest begin_;

  // Wait mode state.
  bool begin_pending_ = false;
  bool woken_while_asking_ = false;  // woken while a begin was out: ask again
  bool wait_over_ = false;           // deadline passed or draining: the in-flight answer
  bool registered_once_ = false;     // logged as waiting
  uint64_t waiter_id_ = 0;           // registered in context_.waiters
  TimerPtr wait_timer_;              // polls the store, and ends the wait
  Clock::time_point wait_deadline_{};
  std::chrono::milliseconds poll_interval_{0};
  std::chrono::milliseconds in_flight_retry_after_{0};
};

}  // namespace dedup
