#include "proxy/downstream/downstream_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "metrics/metrics.h"
#include "proxy/delivery.h"
#include "proxy/http1/message_writer.h"
#include "proxy/local_response.h"
#include "proxy/socket_write.h"
#include "proxy/worker.h"

namespace dedup {
namespace {

// Requests read ahead of their answers on one connection; beyond this the
// connection stops reading until answers go out (backpressure on pipelining).
constexpr size_t kMaxPipelined = 32;
// Requests dispatched per loop turn from one connection; the rest wait for the
// next turn, so a pipelining sender cannot hold its worker's loop.
constexpr int kMaxRequestsPerTurn = 8;
constexpr auto kBudgetRetryAfter = std::chrono::seconds(1);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

timeval toTimeval(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
}

}  // namespace

DownstreamConnection::DownstreamConnection(Worker& worker, int fd, std::string peer_address)
    : worker_(worker),
      bev_(bufferevent_socket_new(worker.loop().base(), fd, BEV_OPT_CLOSE_ON_FREE)),
      peer_address_(std::move(peer_address)),
      decoder_(
          http1::DecodeLimits{worker.config().max_header_bytes, worker.config().max_body_bytes}),
      header_timer_(worker.loop().createTimer([this] {
        worker_.metrics().limitHit(LimitHit::kHeaderTimeout).Increment();
        rejectStream(408, "request headers not received in time");
      })),
      body_timer_(worker.loop().createTimer([this] {
        worker_.metrics().limitHit(LimitHit::kBodyTimeout).Increment();
        rejectStream(408, "request body not received in time");
      })),
      request_charge_(worker.budget()),
      answer_charge_(worker.budget()),
      resume_timer_(worker.loop().createTimer([this] { readRequests(); })) {}

DownstreamConnection::~DownstreamConnection() {
  if (bev_ != nullptr) bufferevent_free(bev_);
}

void DownstreamConnection::start() {
  bufferevent_setcb(bev_, &DownstreamConnection::onRead, &DownstreamConnection::onWrite,
                    &DownstreamConnection::onEvent, this);
  const timeval idle = toTimeval(worker_.config().idle_timeout);
  bufferevent_set_timeouts(bev_, &idle, nullptr);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
}

void DownstreamConnection::onRead(bufferevent*, void* self) {
  static_cast<DownstreamConnection*>(self)->readRequests();
}

void DownstreamConnection::readRequests() {
  if (closed_) return;
  evbuffer* input = bufferevent_get_input(bev_);
  int dispatched = 0;
  while (!reading_stopped_ && evbuffer_get_length(input) > 0) {
    if (slots_.size() >= kMaxPipelined) {
      bufferevent_disable(bev_, EV_READ);
      break;
    }
    if (dispatched == kMaxRequestsPerTurn) {
      resume_timer_->arm(std::chrono::milliseconds(0));  // after the other connections' turn
      break;
    }
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    const size_t consumed =
        decoder_.decode(std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
    evbuffer_drain(input, consumed);
    if (!request_charge_.tryGrow(consumed)) {
      static log::RateLimit budget_lines(1);
      worker_.metrics().limitHit(LimitHit::kBufferBudget).Increment();
      LOG_LIMITED(budget_lines, log::Level::kWarn, "buffer budget exhausted: request refused",
                  {"peer", peer_address_}, {"answer", "503"});
      rejectStream(retryLaterResponse(503, "the proxy is holding too many bytes; retry later",
                                      kBudgetRetryAfter),
                   "buffer budget exhausted");
      return;
    }
    if (decoder_.expectsContinue()) {
      writeNowOrQueue(bev_, kContinue);
      decoder_.continueSent();
    }
    switch (decoder_.state()) {
      case http1::RequestDecoder::State::kMessage:
        dispatch(decoder_.take());
        ++dispatched;
        break;
      case http1::RequestDecoder::State::kError:
        rejectStream(decoder_.error().status, decoder_.error().reason);
        return;
      case http1::RequestDecoder::State::kNeedMore:
        if (consumed == 0) {
          updateHeaderTimer();
          return;
        }
        break;
    }
    if (closed_) return;
  }
  updateHeaderTimer();
}

void DownstreamConnection::updateHeaderTimer() {
  if (closed_) return;
  if (decoder_.midMessage() && !decoder_.headersComplete()) {
    // Armed once per request, from its first byte: slow trickling does not extend it.
    if (!header_timer_->armed()) header_timer_->arm(worker_.config().header_timeout);
  } else {
    header_timer_->disarm();
  }
  // The body has its own deadline from the end of the headers, so trickling
  // a byte now and then (which keeps the idle timeout away) does not help.
  if (decoder_.midMessage() && decoder_.headersComplete()) {
    if (!body_timer_->armed()) body_timer_->arm(worker_.config().body_timeout);
  } else {
    body_timer_->disarm();
  }
}

void DownstreamConnection::dispatch(Request request) {
  const uint64_t id = next_slot_++;
  slots_.push_back({id, request.method == "HEAD", request.keep_alive, std::nullopt});
  // Nothing after a "Connection: close" request is read.
  if (!request.keep_alive) reading_stopped_ = true;
  const Route& route = worker_.routes().match(request);
  auto delivery = std::make_shared<Delivery>(worker_.deliveryContext(), route, std::move(request),
                                             weak_from_this(), id, peer_address_);
  // The request's bytes stay charged as long as its delivery holds them.
  delivery->holdCharge(std::exchange(request_charge_, BufferCharge(worker_.budget())));
  delivery->start();
}

void DownstreamConnection::respond(uint64_t slot, Response response) {
  if (closed_) return;
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.id == slot; });
  if (it == slots_.end()) return;  // dropped after an earlier answer closed the stream
  it->response = std::move(response);
  writeReadyResponses();
}

void DownstreamConnection::rejectStream(int status, std::string_view reason) {
  rejectStream(problemResponse(status, reason), reason);
}

void DownstreamConnection::rejectStream(Response response, std::string_view reason) {
  if (closed_) return;
  worker_.routes().fallback().metrics->count(DeliveryOutcome::kRejected);
  // A flood of bad requests costs a few lines a second (the metric counts all).
  static log::RateLimit rejected_lines(5);
  LOG_LIMITED(rejected_lines, log::Level::kDebug, "rejected a downstream request",
              {"peer", peer_address_}, {"status", std::to_string(response.status)},
              {"reason", reason});
  reading_stopped_ = true;
  header_timer_->disarm();
  body_timer_->disarm();
  request_charge_.reset();
  bufferevent_disable(bev_, EV_READ);
  slots_.push_back({next_slot_++, false, false, std::move(response)});
  writeReadyResponses();
}

void DownstreamConnection::writeReadyResponses() {
  while (!slots_.empty() && slots_.front().response.has_value() && !close_after_write_) {
    Slot& slot = slots_.front();
    Response& response = *slot.response;
    response.keep_alive = slot.keep_alive && !worker_.draining();
    http1::writeResponse(response, slot.head_request, write_buffer_);
    if (!response.keep_alive) close_after_write_ = true;
    slots_.pop_front();
  }
  if (close_after_write_) {
    slots_.clear();  // answers to requests after a closing one are never sent
    reading_stopped_ = true;
  }
  if (!write_buffer_.empty()) {
    writeNowOrQueue(bev_, write_buffer_);
    write_buffer_.clear();
  }
  syncAnswerCharge();
  if (close_after_write_ || (reading_stopped_ && slots_.empty())) {
    if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
    return;  // otherwise onWrite closes once the output has drained
  }
  if (slots_.size() < kMaxPipelined && !(bufferevent_get_enabled(bev_) & EV_READ)) {
    bufferevent_enable(bev_, EV_READ);
    resume_timer_->arm(std::chrono::milliseconds(0));  // requests may already be buffered
  }
}

void DownstreamConnection::syncAnswerCharge() {
  if (bev_ == nullptr) return;
  uint64_t bytes = evbuffer_get_length(bufferevent_get_output(bev_));
  for (const Slot& slot : slots_) {
    if (slot.response.has_value()) bytes += slot.response->body.size();
  }
  answer_charge_.forceTo(bytes);
}

void DownstreamConnection::onWrite(bufferevent*, void* self) {
  auto* connection = static_cast<DownstreamConnection*>(self);
  connection->syncAnswerCharge();
  if (connection->close_after_write_ ||
      (connection->reading_stopped_ && connection->slots_.empty())) {
    connection->close();
  }
}

void DownstreamConnection::onEvent(bufferevent*, short events, void* self) {
  auto* connection = static_cast<DownstreamConnection*>(self);
  if (events & BEV_EVENT_TIMEOUT) {
    if (!connection->slots_.empty()) {
      // Waiting for the app, not for the sender: keep the idle clock running.
      bufferevent_enable(connection->bev_, EV_READ);
    } else if (connection->decoder_.midMessage()) {
      connection->worker_.metrics().limitHit(LimitHit::kIdleTimeout).Increment();
      connection->rejectStream(408, "request not received in time");
    } else {
      connection->worker_.metrics().limitHit(LimitHit::kIdleTimeout).Increment();
      connection->close();
    }
    return;
  }
  if (events & BEV_EVENT_EOF) {
    // The sender may have only half-closed: answer what it asked, then close.
    connection->reading_stopped_ = true;
    if (connection->slots_.empty()) connection->close();
    return;
  }
  connection->close();  // BEV_EVENT_ERROR: reset, broken pipe
}

void DownstreamConnection::drain() {
  if (slots_.empty() && !decoder_.midMessage()) close();
}

void DownstreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  header_timer_->disarm();
  body_timer_->disarm();
  resume_timer_->disarm();
  request_charge_.reset();
  answer_charge_.reset();
  bufferevent_free(bev_);  // safe inside its own callbacks: libevent defers the free
  bev_ = nullptr;
  worker_.closeConnection(this);
}

}  // namespace dedup
