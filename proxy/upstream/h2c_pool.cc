#include "proxy/upstream/h2c_pool.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "common/log.h"
#include "proxy/socket_write.h"
#include "proxy/upstream/http2/http2_client_codec.h"

namespace dedup {
namespace {

constexpr size_t kMaxH2cConnections = 4;
constexpr uint32_t kMaxStreamsPerConnection = 100;
constexpr size_t kOutputHighWater = 1024 * 1024;

using Clock = std::chrono::steady_clock;

UpstreamResult failure(UpstreamResult::Kind kind, std::string error) {
  UpstreamResult result;
  result.kind = kind;
  result.error = std::move(error);
  return result;
}

}  // namespace

// One TCP connection to the app carrying many exchanges as streams.
class H2cConnection {
 public:
  H2cConnection(H2cPool& pool, EventLoop& loop, std::unique_ptr<http2::Http2ClientCodec> codec)
      : pool_(pool),
        codec_(std::move(codec)),
        bev_(bufferevent_socket_new(loop.base(), -1, BEV_OPT_CLOSE_ON_FREE)),
        deadline_timer_(loop.createTimer([this] { expire(); })) {}

  ~H2cConnection() {
    if (bev_ != nullptr) bufferevent_free(bev_);
  }

  bool connect(const UpstreamOptions& options) {
    if (bev_ == nullptr) return false;
    bufferevent_setcb(bev_, &H2cConnection::onRead, &H2cConnection::onWrite,
                      &H2cConnection::onEvent, this);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
    return bufferevent_socket_connect(bev_, reinterpret_cast<const sockaddr*>(&options.address),
                                      static_cast<int>(options.address_len)) == 0;
  }

  void send(Request request, std::chrono::milliseconds timeout, UpstreamCallback done) {
    // The stream id is known only after submit(): the callback finds it here.
    auto id = std::make_shared<int32_t>(0);
    auto submitted = codec_->submit(std::move(request),
                                    [this, id, done = std::move(done)](UpstreamResult result) {
                                      deadlines_.erase(*id);
                                      done(std::move(result));
                                    });
    if (!submitted.ok()) {
      done(failure(UpstreamResult::Kind::kUnreachable, submitted.status().message()));
      return;
    }
    *id = submitted.value();
    const Clock::time_point deadline = Clock::now() + timeout;
    deadlines_.emplace(*id, deadline);
    if (!deadline_timer_->armed() || deadline < next_deadline_) {
      next_deadline_ = deadline;
      deadline_timer_->arm(timeout);
    }
    flush();
  }

  bool usable() const { return !closed_ && codec_->usable(); }
  size_t active() const { return codec_->activeStreams(); }
  uint32_t capacity() const {
    return std::min(codec_->peerConcurrency(), kMaxStreamsPerConnection);
  }

 private:
  static void onRead(bufferevent*, void* self) { static_cast<H2cConnection*>(self)->read(); }
  static void onWrite(bufferevent*, void* self) { static_cast<H2cConnection*>(self)->flush(); }

  static void onEvent(bufferevent*, short events, void* self) {
    auto* connection = static_cast<H2cConnection*>(self);
    if (events & BEV_EVENT_CONNECTED) {
      const int one = 1;
      setsockopt(bufferevent_getfd(connection->bev_), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      connection->connected_ = true;
      connection->flush();
      return;
    }
    std::string why = (events & BEV_EVENT_EOF)
                          ? "the app closed the connection"
                          : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    connection->fail(
        UpstreamResult::Kind::kUnreachable,
        (connection->connected_ ? "app connection error: " : "cannot connect to the app: ") + why);
  }

  void read() {
    evbuffer* input = bufferevent_get_input(bev_);
    while (!closed_ && evbuffer_get_length(input) > 0) {
      evbuffer_iovec chunk;
      if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
      const Status status = codec_->receive(
          std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
      if (closed_) return;
      evbuffer_drain(input, chunk.iov_len);
      if (!status.ok()) {
        fail(UpstreamResult::Kind::kBadResponse,
             "the app's HTTP/2 is invalid: " + status.message());
        return;
      }
    }
    flush();
  }

  void flush() {
    if (closed_ || !connected_) return;
    evbuffer* output = bufferevent_get_output(bev_);
    const size_t queued = evbuffer_get_length(output);
    if (queued < kOutputHighWater) {
      std::string out;
      const Status status = codec_->produce(out, kOutputHighWater - queued);
      if (closed_) return;
      if (!out.empty()) writeNowOrQueue(bev_, out);
      if (!status.ok()) {
        fail(UpstreamResult::Kind::kUnreachable, status.message());
        return;
      }
    }
    if (codec_->finished() && evbuffer_get_length(output) == 0) {
      fail(UpstreamResult::Kind::kUnreachable, "the app ended the connection");
    }
  }

  // Exchanges past their deadline end with kTimeout; their streams are reset.
  void expire() {
    const Clock::time_point now = Clock::now();
    std::vector<int32_t> late;
    Clock::time_point next = Clock::time_point::max();
    for (const auto& [id, deadline] : deadlines_) {
      if (deadline <= now) {
        late.push_back(id);
      } else {
        next = std::min(next, deadline);
      }
    }
    for (int32_t id : late) {
      deadlines_.erase(id);
      UpstreamCallback done = codec_->cancel(id);
      if (done)
        done(failure(UpstreamResult::Kind::kTimeout, "no complete answer from the app in time"));
    }
    if (next != Clock::time_point::max()) {
      next_deadline_ = next;
      deadline_timer_->arm(
          std::max(std::chrono::duration_cast<std::chrono::milliseconds>(next - now),
                   std::chrono::milliseconds(1)));
    }
    flush();
  }

  void fail(UpstreamResult::Kind kind, const std::string& error) {
    if (closed_) return;
    closed_ = true;
    deadline_timer_->disarm();
    bufferevent_disable(bev_, EV_READ | EV_WRITE);
    bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
    deadlines_.clear();
    codec_->failAll(kind, error);
    pool_.onConnectionClosed(*this);
  }

  H2cPool& pool_;
  std::unique_ptr<http2::Http2ClientCodec> codec_;
  bufferevent* bev_;
  std::unordered_map<int32_t, Clock::time_point> deadlines_;
  Clock::time_point next_deadline_;
  TimerPtr deadline_timer_;
  bool connected_ = false;
  bool closed_ = false;
};

H2cPool::H2cPool(EventLoop& loop, UpstreamOptions options)
    : loop_(loop),
      options_(std::move(options)),
      collect_timer_(loop.createTimer([this] { closed_.clear(); })) {}

H2cPool::~H2cPool() = default;

void H2cPool::send(Request request, UpstreamCallback done) {
  H2cConnection* connection = pick();
  if (connection == nullptr) {
    done(failure(UpstreamResult::Kind::kUnreachable, "cannot open a connection to the app"));
    return;
  }
  connection->send(std::move(request), options_.timeout, std::move(done));
}

H2cConnection* H2cPool::pick() {
  H2cConnection* best = nullptr;
  for (auto& connection : connections_) {
    if (!connection->usable()) continue;
    if (best == nullptr || connection->active() < best->active()) best = connection.get();
  }
  const size_t limit =
      std::min(kMaxH2cConnections, static_cast<size_t>(std::max(1, options_.max_connections)));
  const bool full = best != nullptr && best->active() >= best->capacity();
  if (best != nullptr && (!full || connections_.size() >= limit)) return best;
  http2::Http2ClientLimits limits;
  limits.max_header_bytes = options_.max_header_bytes;
  limits.max_body_bytes = options_.max_body_bytes;
  auto codec = http2::Http2ClientCodec::create(limits);
  if (!codec.ok()) {
    LOG_ERROR("cannot start an HTTP/2 session to the app", {"error", codec.status().message()});
    return best;
  }
  auto fresh = std::make_unique<H2cConnection>(*this, loop_, std::move(codec.value()));
  if (!fresh->connect(options_)) return best;
  connections_.push_back(std::move(fresh));
  return connections_.back().get();
}

void H2cPool::onConnectionClosed(H2cConnection& connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == &connection; });
  if (it == connections_.end()) return;
  closed_.push_back(std::move(*it));
  connections_.erase(it);
  collect_timer_->arm(std::chrono::milliseconds(0));
}

}  // namespace dedup
