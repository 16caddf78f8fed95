#include "proxy/downstream/codec_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <vector>

#include "common/log.h"
#include "proxy/delivery.h"
#include "proxy/local_response.h"
#include "proxy/socket_write.h"
#include "proxy/worker.h"

namespace dedup {
namespace {

// Unsent bytes above which the codec is asked for no more output and the
// connection stops reading (the sender's requests wait for it to read the answers).
constexpr size_t kOutputHighWater = 1024 * 1024;

timeval toTimeval(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
}

}  // namespace

CodecConnection::CodecConnection(Worker& worker, int fd, std::string peer_address)
    : worker_(worker),
      bev_(bufferevent_socket_new(worker.loop().base(), fd, BEV_OPT_CLOSE_ON_FREE)),
      peer_address_(std::move(peer_address)),
      max_output_(static_cast<size_t>(worker.config().max_output_buffer)),
      resume_timer_(worker.loop().createTimer([this] { feed(); })) {}

CodecConnection::~CodecConnection() {
  if (bev_ != nullptr) bufferevent_free(bev_);
}

void CodecConnection::start() {
  bufferevent_setcb(bev_, &CodecConnection::onRead, &CodecConnection::onWrite,
                    &CodecConnection::onEvent, this);
  const timeval idle = toTimeval(worker_.config().idle_timeout);
  bufferevent_set_timeouts(bev_, &idle, nullptr);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  flush();  // the server's connection preface (SETTINGS) goes out at once
}

void CodecConnection::onRead(bufferevent*, void* self) {
  static_cast<CodecConnection*>(self)->feed();
}

void CodecConnection::feed() {
  if (closed_ || feeding_) return;
  evbuffer* input = bufferevent_get_input(bev_);
  feeding_ = true;
  while (!failed_ && codec_->wantsRead() && evbuffer_get_length(input) > 0) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    const Status status =
        codec_->receive(std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
    evbuffer_drain(input, chunk.iov_len);
    if (!status.ok()) {
      failed_ = true;
      LOG_DEBUG("closing a downstream connection", {"peer", peer_address_},
                {"reason", status.message()});
    }
  }
  feeding_ = false;
  flush();
}

void CodecConnection::flush() {
  if (closed_ || feeding_) return;
  evbuffer* output = bufferevent_get_output(bev_);
  const size_t queued = evbuffer_get_length(output);
  if (queued < kOutputHighWater) {
    if (Status s = codec_->produce(write_buffer_, kOutputHighWater - queued); !s.ok()) {
      failed_ = true;
    }
    if (!write_buffer_.empty()) {
      writeNowOrQueue(bev_, write_buffer_);
      write_buffer_.clear();
    }
  }
  if ((failed_ || codec_->finished()) && evbuffer_get_length(output) == 0) {
    close();
    return;
  }
  resumeProducers();
  updateReading();
}

size_t CodecConnection::unsentBytes() const {
  return evbuffer_get_length(bufferevent_get_output(bev_)) + write_buffer_.size();
}

void CodecConnection::resumeProducers() {
  if (paused_.empty() || closed_) return;
  const size_t unsent = unsentBytes();
  std::vector<std::function<void()>> ready;
  for (auto it = paused_.begin(); it != paused_.end();) {
    if (unsent + codec_->pendingBody(*it) <= max_output_) {
      auto r = resumes_.find(*it);
      if (r != resumes_.end() && r->second) ready.push_back(r->second);
      it = paused_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& resume : ready) resume();  // defers to the loop: no reentry here
}

void CodecConnection::updateReading() {
  if (closed_) return;
  const bool want = !failed_ && codec_->wantsRead() &&
                    evbuffer_get_length(bufferevent_get_output(bev_)) < kOutputHighWater;
  const bool reading = (bufferevent_get_enabled(bev_) & EV_READ) != 0;
  if (want && !reading) {
    bufferevent_enable(bev_, EV_READ);
    // Input read before reading stopped is not announced again.
    if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
      resume_timer_->arm(std::chrono::milliseconds(0));
    }
  } else if (!want && reading) {
    bufferevent_disable(bev_, EV_READ);
  }
}

void CodecConnection::onRequest(uint64_t slot, Request request) {
  const Route& route = worker_.routes().match(request);
  auto delivery = std::make_shared<Delivery>(worker_.deliveryContext(), route, std::move(request),
                                             weak_from_this(), slot, peer_address_);
  delivery->start();
}

Response CodecConnection::onRejected(int status, std::string_view reason) {
  worker_.routes().fallback().metrics->count(DeliveryOutcome::kRejected);
  LOG_DEBUG("rejected a downstream request", {"peer", peer_address_},
            {"status", std::to_string(status)}, {"reason", reason});
  return problemResponse(status, reason);
}

void CodecConnection::respond(uint64_t slot, Response response) {
  if (closed_) return;
  codec_->respond(slot, std::move(response));
  flush();  // inside feed() this waits for feed()'s own flush
}

void CodecConnection::respondHead(uint64_t slot, Response head, std::optional<uint64_t> body_length,
                                  std::function<void()> resume) {
  if (closed_) return;  // sendBody() takes (and drops) everything from now on
  if (codec_->respondHead(slot, std::move(head), body_length)) {
    resumes_[slot] = std::move(resume);
  }
  flush();
}

bool CodecConnection::sendBody(uint64_t slot, std::string_view bytes) {
  if (closed_) return true;  // nobody to send to: take (and drop) everything
  // Reset by the sender (or no body to send): dropped, and the app's answer
  // goes on being read to its end (its commit does not depend on the sender).
  if (!codec_->appendBody(slot, bytes)) return true;
  flush();
  if (closed_) return true;
  // The stream's own unsent bytes count with the connection's: a sender that
  // does not read (or opens no window) holds the app back, not the proxy's memory.
  if (unsentBytes() + codec_->pendingBody(slot) <= max_output_) return true;
  paused_.insert(slot);
  return false;
}

void CodecConnection::finishBody(uint64_t slot) {
  resumes_.erase(slot);
  paused_.erase(slot);
  if (closed_) return;
  codec_->finishBody(slot);
  flush();
}

void CodecConnection::abort(uint64_t slot) {
  resumes_.erase(slot);
  paused_.erase(slot);
  if (closed_) return;
  codec_->abortStream(slot);  // RST_STREAM, not a 502: the answer is cut
  flush();
}

void CodecConnection::onWrite(bufferevent*, void* self) {
  static_cast<CodecConnection*>(self)->flush();
}

void CodecConnection::onEvent(bufferevent*, short events, void* self) {
  auto* connection = static_cast<CodecConnection*>(self);
  if (events & BEV_EVENT_TIMEOUT) {
    if (connection->codec_->busy()) {
      // Waiting for the app, not for the sender: keep the idle clock running.
      bufferevent_enable(connection->bev_, EV_READ);
    } else {
      // Nothing to answer and nothing read for the idle timeout, though a
      // stalled sender may hold streams half-sent: GOAWAY, then close.
      connection->codec_->drain();
      connection->failed_ = true;
      connection->flush();
    }
    return;
  }
  // EOF, reset, broken pipe: nobody is left to answer; deliveries go on.
  connection->close();
}

void CodecConnection::drain() {
  if (closed_) return;
  codec_->drain();
  flush();
}

void CodecConnection::close() {
  if (closed_) return;
  closed_ = true;
  resume_timer_->disarm();
  // Paused producers learn the sender is gone when they next send.
  std::vector<std::function<void()>> ready;
  for (uint64_t slot : paused_) {
    auto r = resumes_.find(slot);
    if (r != resumes_.end() && r->second) ready.push_back(std::move(r->second));
  }
  paused_.clear();
  resumes_.clear();
  for (auto& resume : ready) resume();
  bufferevent_free(bev_);  // safe inside its own callbacks: libevent defers the free
  bev_ = nullptr;
  worker_.closeConnection(this);
}

}  // namespace dedup
