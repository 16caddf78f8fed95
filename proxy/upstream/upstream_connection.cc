#include "proxy/upstream/upstream_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <utility>

#include "proxy/http1/message_writer.h"
#include "proxy/socket_write.h"

namespace dedup {

// The handle a delivery holds on a streamed body. It outlives the connection
// safely: the connection detaches it (connection_ = nullptr) when the body
// ends or the connection goes.
class UpstreamConnection::BodyStream : public UpstreamBody {
 public:
  explicit BodyStream(UpstreamConnection* connection) : connection_(connection) {}

  void start(Handler handler) override {
    handler_ = std::move(handler);
    resume();
  }
  void pause() override {
    if (connection_ != nullptr) connection_->pauseBody();
  }
  void resume() override {
    if (connection_ != nullptr) connection_->resumeBody();
  }
  void cancel() override {
    handler_ = {};
    if (UpstreamConnection* connection = std::exchange(connection_, nullptr)) {
      connection->cancelBody();
    }
  }

  UpstreamConnection* connection_;
  Handler handler_;
};

UpstreamConnection::UpstreamConnection(UpstreamPool& pool, EventLoop& loop,
                                       const UpstreamOptions& options)
    : pool_(pool),
      options_(options),
      decoder_(options.max_header_bytes, options.max_buffered_body),
      timeout_(loop.createTimer([this] {
        if (stream_) {
          failBody("the app sent no more of the body in time");
        } else {
          fail(UpstreamResult::Kind::kTimeout, "no complete answer from the app in time");
        }
      })),
      resume_timer_(loop.createTimer([this] { streamBody(); })) {
  bev_ = bufferevent_socket_new(loop.base(), -1, BEV_OPT_CLOSE_ON_FREE);
}

UpstreamConnection::~UpstreamConnection() {
  detachStream();
  if (bev_ != nullptr) bufferevent_free(bev_);
}

bool UpstreamConnection::connect() {
  if (bev_ == nullptr) return false;
  bufferevent_setcb(bev_, &UpstreamConnection::onRead, nullptr, &UpstreamConnection::onEvent, this);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  // Connection refused on loopback is reported through onEvent, not here.
  return bufferevent_socket_connect(bev_, reinterpret_cast<const sockaddr*>(&options_.address),
                                    static_cast<int>(options_.address_len)) == 0;
}

void UpstreamConnection::start(const Request& request, std::chrono::milliseconds timeout,
                               UpstreamCallback done) {
  done_ = std::move(done);
  eof_ = false;
  head_request_ = request.method == "HEAD";
  if (head_request_) decoder_.expectNoBody();
  if (state_ == State::kIdle) state_ = State::kBusy;
  std::string& bytes = request_bytes_;
  bytes.clear();
  http1::writeRequest(request, bytes);
  if (state_ == State::kConnecting) {
    bufferevent_write(bev_, bytes.data(), bytes.size());  // goes out once connected
  } else {
    writeNowOrQueue(bev_, bytes);
  }
  timeout_->arm(timeout);
}

void UpstreamConnection::onRead(bufferevent*, void* self) {
  static_cast<UpstreamConnection*>(self)->readResponse();
}

void UpstreamConnection::readResponse() {
  if (stream_) {
    streamBody();
    return;
  }
  evbuffer* input = bufferevent_get_input(bev_);
  if (!done_) {
    // Bytes while idle: the app broke the protocol; don't reuse this connection.
    close();
    return;
  }
  while (evbuffer_get_length(input) > 0) {
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    const size_t consumed =
        decoder_.decode(std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
    evbuffer_drain(input, consumed);
    if (decoder_.state() == http1::ResponseDecoder::State::kMessage) {
      UpstreamResult result;
      result.response = decoder_.take();
      const bool reusable = result.response.keep_alive && evbuffer_get_length(input) == 0;
      finish(std::move(result), reusable);
      return;
    }
    if (decoder_.state() == http1::ResponseDecoder::State::kHead) {
      handOverHead();
      return;
    }
    if (decoder_.state() == http1::ResponseDecoder::State::kError) {
      fail(UpstreamResult::Kind::kBadResponse, decoder_.error());
      return;
    }
    if (consumed == 0) break;
  }
}

void UpstreamConnection::handOverHead() {
  // Nothing more is read until the delivery starts the body (after its
  // commit or release): the body waits in the app's socket meanwhile.
  pauseBody();
  stream_ = std::make_shared<BodyStream>(this);
  UpstreamResult result;
  result.response = decoder_.takeHead();
  result.body = stream_;
  result.body_length = decoder_.bodyLength();
  UpstreamCallback done = std::move(done_);
  done_ = nullptr;
  done(std::move(result));
}

void UpstreamConnection::streamBody() {
  evbuffer* input = bufferevent_get_input(bev_);
  while (stream_ && !body_paused_ && state_ != State::kClosed) {
    std::string& bytes = decoder_.streamedBody();
    if (!bytes.empty()) {
      // A copy: the handler may cancel (and so drop itself) inside the call.
      const auto on_data = stream_->handler_.on_data;
      if (on_data) on_data(bytes);
      if (state_ == State::kClosed) return;
      bytes.clear();
      continue;
    }
    const auto state = decoder_.state();
    if (state == http1::ResponseDecoder::State::kMessage) {
      endBody();
      return;
    }
    if (state == http1::ResponseDecoder::State::kError) {
      failBody(decoder_.error());
      return;
    }
    if (evbuffer_get_length(input) == 0) {
      if (!eof_) break;
      decoder_.decodeEof();  // completes an until-close body, or fails
      continue;
    }
    evbuffer_iovec chunk;
    if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
    const size_t consumed =
        decoder_.decode(std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
    evbuffer_drain(input, consumed);
    if (consumed == 0 && decoder_.state() == http1::ResponseDecoder::State::kNeedMore) break;
  }
  // While the sender keeps up, the app must keep sending.
  if (stream_ && !body_paused_) timeout_->arm(options_.timeout);
}

void UpstreamConnection::endBody() {
  timeout_->disarm();
  const Response rest = decoder_.take();  // its body was drained above
  const bool reusable =
      rest.keep_alive && !eof_ && evbuffer_get_length(bufferevent_get_input(bev_)) == 0;
  UpstreamBody::Handler handler = std::move(stream_->handler_);
  detachStream();
  if (reusable) {
    state_ = State::kIdle;
    bufferevent_enable(bev_, EV_READ);
    pool_.onConnectionIdle(*this);
  } else {
    close();
  }
  if (handler.on_end) handler.on_end();
}

void UpstreamConnection::failBody(std::string error) {
  UpstreamBody::Handler handler = std::move(stream_->handler_);
  detachStream();
  close();
  if (handler.on_error) handler.on_error(std::move(error));
}

void UpstreamConnection::pauseBody() {
  body_paused_ = true;
  bufferevent_disable(bev_, EV_READ);
  timeout_->disarm();
  resume_timer_->disarm();
}

void UpstreamConnection::resumeBody() {
  if (!body_paused_ || state_ == State::kClosed) return;
  body_paused_ = false;
  bufferevent_enable(bev_, EV_READ);
  // Bytes (or the close) may already be buffered: no read event would come.
  resume_timer_->arm(std::chrono::milliseconds(0));
  timeout_->arm(options_.timeout);
}

void UpstreamConnection::cancelBody() {
  detachStream();
  close();
}

void UpstreamConnection::detachStream() {
  if (!stream_) return;
  stream_->connection_ = nullptr;
  stream_->handler_ = {};  // breaks the cycle handler → delivery → stream
  stream_.reset();
  body_paused_ = false;
}

void UpstreamConnection::onEvent(bufferevent*, short events, void* self) {
  auto* connection = static_cast<UpstreamConnection*>(self);
  if (events & BEV_EVENT_CONNECTED) {
    const int one = 1;
    setsockopt(bufferevent_getfd(connection->bev_), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connection->state_ == State::kConnecting) {
      connection->state_ = connection->done_ ? State::kBusy : State::kIdle;
    }
    return;
  }
  if (connection->stream_) {
    if (events & BEV_EVENT_EOF) {
      connection->eof_ = true;
      connection->streamBody();
    } else if (events & BEV_EVENT_ERROR) {
      connection->failBody(std::string("app connection error: ") +
                           evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    return;
  }
  if (events & BEV_EVENT_EOF) {
    if (connection->done_) {
      connection->decoder_.decodeEof();
      if (connection->decoder_.state() == http1::ResponseDecoder::State::kMessage) {
        UpstreamResult result;
        result.response = connection->decoder_.take();
        connection->finish(std::move(result), false);
        return;
      }
      connection->fail(UpstreamResult::Kind::kUnreachable,
                       "the app closed the connection without a complete answer");
      return;
    }
    connection->close();
    return;
  }
  if (events & BEV_EVENT_ERROR) {
    const bool never_connected = connection->state_ == State::kConnecting;
    std::string why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    connection->fail(
        UpstreamResult::Kind::kUnreachable,
        (never_connected ? "cannot connect to the app: " : "app connection error: ") + why);
  }
}

void UpstreamConnection::finish(UpstreamResult result, bool reusable) {
  timeout_->disarm();
  UpstreamCallback done = std::move(done_);
  done_ = nullptr;
  if (reusable) {
    state_ = State::kIdle;
    pool_.onConnectionIdle(*this);
  } else {
    close();
  }
  if (done) done(std::move(result));
}

void UpstreamConnection::fail(UpstreamResult::Kind kind, std::string error) {
  UpstreamResult result;
  result.kind = kind;
  result.head_status = decoder_.headStatus();
  result.error = std::move(error);
  finish(std::move(result), false);
}

void UpstreamConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  detachStream();
  timeout_->disarm();
  resume_timer_->disarm();
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  pool_.onConnectionClosed(*this);
}

}  // namespace dedup
