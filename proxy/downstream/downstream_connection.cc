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

// Requests read ahead of their answers on one connection (an answer counts
// until it is written out); beyond this the connection stops reading.
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
      resume_timer_(worker.loop().createTimer([this] { readRequests(); })),
      max_output_(static_cast<size_t>(worker.config().max_output_buffer)) {}

DownstreamConnection::~DownstreamConnection() {
  if (bev_ != nullptr) bufferevent_free(bev_);
}

void DownstreamConnection::start() {
  bufferevent_setcb(bev_, &DownstreamConnection::onRead, &DownstreamConnection::onWrite,
                    &DownstreamConnection::onEvent, this);
  const timeval idle = toTimeval(worker_.config().idle_timeout);
  const timeval write = toTimeval(worker_.config().write_timeout);
  bufferevent_set_timeouts(bev_, &idle, &write);
  // onWrite runs whenever a write leaves at most half the high-water mark
  // queued: time to resume reading or a paused body.
  bufferevent_setwatermark(bev_, EV_WRITE, max_output_ / 2, 0);
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
    if (!acceptsRequests()) break;
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
      bytes_out_ += kContinue.size();
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
  // Nothing after a closing request is kept; reading on (rather than
  // closing with unread bytes) lets the answer reach the sender before a
  // reset would discard it.
  if (reading_stopped_) evbuffer_drain(input, evbuffer_get_length(input));
  updateReading();
  updateHeaderTimer();
}

bool DownstreamConnection::acceptsRequests() const {
  return slots_.size() + unflushed_.size() < kMaxPipelined && unsentBytes() <= max_output_;
}

size_t DownstreamConnection::unsentBytes() const {
  return evbuffer_get_length(bufferevent_get_output(bev_)) + write_buffer_.size();
}

void DownstreamConnection::updateReading() {
  if (closed_) return;
  // A stopped stream is read only to discard; after the sender's EOF not at all.
  const bool want = !peer_eof_ && (reading_stopped_ || acceptsRequests());
  const bool enabled = (bufferevent_get_enabled(bev_) & EV_READ) != 0;
  if (want && !enabled) {
    bufferevent_enable(bev_, EV_READ);
    // Requests may already be buffered: no read event would announce them.
    if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
      resume_timer_->arm(std::chrono::milliseconds(0));
    }
  } else if (!want && enabled) {
    bufferevent_disable(bev_, EV_READ);
  }
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
  Slot& slot = slots_.emplace_back();
  slot.id = id;
  slot.head_request = request.method == "HEAD";
  slot.keep_alive = request.keep_alive;
  slot.http10 = request.version_minor == 0;
  // Nothing after a "Connection: close" request is read.
  if (!request.keep_alive) reading_stopped_ = true;
  const Route& route = worker_.routes().match(request);
  auto delivery = std::make_shared<Delivery>(worker_.deliveryContext(), route, std::move(request),
                                             weak_from_this(), id, peer_address_);
  // The request's bytes stay charged as long as its delivery holds them.
  delivery->holdCharge(std::exchange(request_charge_, BufferCharge(worker_.budget())));
  delivery->start();
}

DownstreamConnection::Slot* DownstreamConnection::findSlot(uint64_t id) {
  if (closed_) return nullptr;
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.id == id; });
  // Not found: dropped after an earlier answer closed the stream.
  return it == slots_.end() ? nullptr : &*it;
}

void DownstreamConnection::respond(uint64_t slot, Response response) {
  Slot* s = findSlot(slot);
  if (s == nullptr) return;
  s->response = std::move(response);
  writeReadyResponses();
}

void DownstreamConnection::respondHead(uint64_t slot, Response head,
                                       std::optional<uint64_t> body_length,
                                       std::function<void()> resume) {
  Slot* s = findSlot(slot);
  if (s == nullptr) {
    if (resume) resume();  // the delivery then finds the stream gone
    return;
  }
  s->streamed = true;
  s->body_length = body_length;
  s->pending = std::move(head.body);
  head.body.clear();
  s->response = std::move(head);
  s->resume = std::move(resume);
  writeReadyResponses();
}

bool DownstreamConnection::sendBody(uint64_t slot, std::string_view bytes) {
  Slot* s = findSlot(slot);
  if (s == nullptr) return true;  // nobody to send to: take (and drop) everything
  s->pending.append(bytes);
  writeReadyResponses();
  if (closed_) return true;
  // Room only for the answer being written, and only below the high-water mark.
  const bool room = !slots_.empty() && slots_.front().id == slot && unsentBytes() <= max_output_;
  if (!room) {
    if (Slot* again = findSlot(slot)) again->producer_paused = true;
  }
  return room;
}

void DownstreamConnection::finishBody(uint64_t slot) {
  Slot* s = findSlot(slot);
  if (s == nullptr) return;
  s->body_done = true;
  writeReadyResponses();
}

void DownstreamConnection::abort(uint64_t slot) {
  Slot* s = findSlot(slot);
  if (s == nullptr) return;
  s->aborted = true;
  if (!s->response) s->response.emplace();
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
  Slot& slot = slots_.emplace_back();
  slot.id = next_slot_++;
  slot.response = std::move(response);
  writeReadyResponses();
}

void DownstreamConnection::writeReadyResponses() {
  if (closed_) return;
  while (!slots_.empty() && slots_.front().response.has_value() && !close_after_write_) {
    Slot& slot = slots_.front();
    if (slot.aborted) {
      // The sender cannot get this answer whole: what came before goes out,
      // then the connection closes (a partial body is never completed).
      close_after_write_ = true;
      break;
    }
    if (slot.streamed) {
      writeStreamed(slot);
      if (!slot.body_done) break;  // later answers wait for this body
    } else {
      Response& response = *slot.response;
      response.keep_alive = slot.keep_alive && !worker_.draining();
      http1::writeResponse(response, slot.head_request, write_buffer_);
      if (!response.keep_alive) close_after_write_ = true;
    }
    unflushed_.push_back(bytes_out_ + write_buffer_.size());
    slots_.pop_front();
  }
  if (close_after_write_) {
    dropSlots();  // answers to requests after a closing one are never sent
    reading_stopped_ = true;
  }
  flushWriteBuffer();
  syncAnswerCharge();
  if (close_after_write_ || (reading_stopped_ && slots_.empty())) {
    if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
    if (!closed_) updateReading();  // discard whatever the sender still sends
    return;                         // otherwise onWrite closes once the output has drained
  }
  afterWrite();
}

void DownstreamConnection::writeStreamed(Slot& slot) {
  if (!slot.head_written) {
    Response& head = *slot.response;
    head.keep_alive = slot.keep_alive && !worker_.draining();
    http1::BodyFraming framing = http1::BodyFraming::kContentLength;
    if (!slot.body_length) {
      if (slot.http10) {
        framing = http1::BodyFraming::kUntilClose;
        head.keep_alive = false;
      } else {
        framing = http1::BodyFraming::kChunked;
        slot.chunked = true;
      }
    }
    http1::writeResponseHead(head, framing, slot.body_length.value_or(0), write_buffer_);
    if (!head.keep_alive) slot.keep_alive = false;
    slot.head_written = true;
  }
  if (!slot.pending.empty()) {
    if (slot.head_request) {
      // no body on the wire for HEAD
    } else if (slot.chunked) {
      http1::appendChunk(slot.pending, write_buffer_);
    } else {
      write_buffer_.append(slot.pending);
    }
    slot.pending.clear();
  }
  if (slot.body_done) {
    if (slot.chunked && !slot.head_request) http1::appendLastChunk(write_buffer_);
    if (!slot.keep_alive) close_after_write_ = true;
  }
}

void DownstreamConnection::flushWriteBuffer() {
  if (write_buffer_.empty()) return;
  bytes_out_ += write_buffer_.size();
  writeNowOrQueue(bev_, write_buffer_);
  write_buffer_.clear();
  // A streamed body passes through here chunk by chunk: don't keep the peak.
  if (write_buffer_.capacity() > 64 * 1024) write_buffer_.shrink_to_fit();
}

void DownstreamConnection::afterWrite() {
  if (closed_) return;
  const uint64_t written = bytes_out_ - evbuffer_get_length(bufferevent_get_output(bev_));
  while (!unflushed_.empty() && unflushed_.front() <= written) unflushed_.pop_front();
  resumeProducer();
  updateReading();
}

void DownstreamConnection::resumeProducer() {
  if (slots_.empty() || unsentBytes() > max_output_) return;
  Slot& front = slots_.front();
  if (!front.streamed || !front.producer_paused) return;
  front.producer_paused = false;
  if (front.resume) front.resume();  // defers to the loop: no reentry here
}

void DownstreamConnection::dropSlots() {
  std::deque<Slot> dropped;
  dropped.swap(slots_);
  for (Slot& slot : dropped) {
    if (slot.producer_paused && slot.resume) slot.resume();
  }
}

void DownstreamConnection::syncAnswerCharge() {
  if (bev_ == nullptr) return;
  uint64_t bytes = evbuffer_get_length(bufferevent_get_output(bev_));
  for (const Slot& slot : slots_) {
    if (slot.response.has_value()) bytes += slot.response->body.size();
    bytes += slot.pending.size();
  }
  answer_charge_.forceTo(bytes);
}

void DownstreamConnection::onWrite(bufferevent*, void* self) {
  auto* connection = static_cast<DownstreamConnection*>(self);
  connection->syncAnswerCharge();
  if (connection->close_after_write_ ||
      (connection->reading_stopped_ && connection->slots_.empty())) {
    if (evbuffer_get_length(bufferevent_get_output(connection->bev_)) == 0) connection->close();
    return;
  }
  connection->afterWrite();
}

void DownstreamConnection::onEvent(bufferevent*, short events, void* self) {
  auto* connection = static_cast<DownstreamConnection*>(self);
  if ((events & BEV_EVENT_TIMEOUT) && (events & BEV_EVENT_WRITING)) {
    LOG_DEBUG("closed a downstream connection that took no bytes in time",
              {"peer", connection->peer_address_});
    connection->close();
    return;
  }
  if (events & BEV_EVENT_TIMEOUT) {
    if (!connection->slots_.empty()) {
      // Waiting for the app, not for the sender: keep the idle clock running.
      connection->updateReading();
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
    connection->peer_eof_ = true;
    if (connection->slots_.empty() &&
        evbuffer_get_length(bufferevent_get_output(connection->bev_)) == 0) {
      connection->close();
    }
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
  dropSlots();  // wakes paused bodies: their deliveries find the sender gone
  request_charge_.reset();
  answer_charge_.reset();
  bufferevent_free(bev_);  // safe inside its own callbacks: libevent defers the free
  bev_ = nullptr;
  worker_.closeConnection(this);
}

}  // namespace dedup
