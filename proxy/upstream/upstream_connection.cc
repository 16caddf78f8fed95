#include "proxy/upstream/upstream_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>

#include "proxy/http1/message_writer.h"
#include "proxy/socket_write.h"

namespace dedup {

UpstreamConnection::UpstreamConnection(UpstreamPool& pool, EventLoop& loop,
                                       const UpstreamOptions& options)
    : pool_(pool),
      options_(options),
      decoder_(options.max_header_bytes, options.max_body_bytes),
      timeout_(loop.createTimer([this] {
        fail(UpstreamResult::Kind::kTimeout, "no complete answer from the app in time");
      })) {
  bev_ = bufferevent_socket_new(loop.base(), -1, BEV_OPT_CLOSE_ON_FREE);
}

UpstreamConnection::~UpstreamConnection() {
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
    if (decoder_.state() == http1::ResponseDecoder::State::kError) {
      fail(UpstreamResult::Kind::kBadResponse, decoder_.error());
      return;
    }
    if (consumed == 0) break;
  }
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
  result.error = std::move(error);
  finish(std::move(result), false);
}

void UpstreamConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  timeout_->disarm();
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  pool_.onConnectionClosed(*this);
}

}  // namespace dedup
