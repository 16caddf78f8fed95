#include "proxy/worker.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "proxy/downstream/codec_connection.h"
#include "proxy/downstream/connection_limit.h"
#include "proxy/downstream/downstream_connection.h"
#include "proxy/downstream/http2/http2_server_codec.h"
#include "proxy/upstream/h2c_pool.h"

namespace dedup {
namespace {

// Connections accepted per wake-up, so one busy listener cannot starve the loop.
constexpr int kAcceptBurst = 64;
// Sent, if the socket takes it at once, to a connection over max_connections.
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

std::string peerAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "unknown";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof(text));
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
              sizeof(text));
  }
  return text;
}

http2::Http2Limits http2Limits(const Config& config) {
  http2::Http2Limits limits;
  limits.max_header_list_bytes = config.max_header_bytes;
  limits.max_body_bytes = config.max_body_bytes;
  limits.held_body_budget = config.max_body_bytes;
  return limits;
}

}  // namespace

Worker::Worker(const Config& config, const RouteTable& routes, StoreBackend& backend,
               Metrics& metrics, int listen_fd, const UpstreamOptions& upstream,
               BufferBudget& budget, ConnectionLimit& connection_limit, InFlightWaiters* waiters)
    : config_(config),
      routes_(routes),
      backend_(backend),
      metrics_(metrics),
      budget_(budget),
      connection_limit_(connection_limit),
      listen_fd_(listen_fd),
      store_(backend.attach(loop_)),
      upstream_(upstream.h2c ? std::unique_ptr<Upstream>(std::make_unique<H2cPool>(loop_, upstream))
                             : std::make_unique<UpstreamPool>(loop_, upstream)),
      collect_timer_(loop_.createTimer([this] {
        closed_.clear();
        finished_detectors_.clear();
      })),
      accept_retry_timer_(loop_.createTimer([this] {
        if (!draining_) event_add(accept_event_, nullptr);
      })),
      downstream_connections_(metrics.connections("downstream")) {
  context_.reset(new DeliveryContext{*store_, *upstream_,
                                     metrics_.store(std::string(backend_.name())), config_});
  context_->loop = &loop_;
  context_->waiters = waiters;
  accept_event_ =
      event_new(loop_.base(), listen_fd_, EV_READ | EV_PERSIST, &Worker::onAcceptable, this);
}

Worker::~Worker() {
  if (thread_.joinable()) stop();
  // Every accepted socket holds a place, whether still being detected or not.
  for (size_t i = 0; i < connections_.size() + detectors_.size(); ++i) connection_limit_.release();
  detectors_.clear();
  finished_detectors_.clear();
  connections_.clear();
  closed_.clear();
  event_free(accept_event_);
}

void Worker::start() {
  event_add(accept_event_, nullptr);
  thread_ = std::thread([this] { loop_.run(); });
}

void Worker::onAcceptable(int, short, void* self) {
  static_cast<Worker*>(self)->acceptConnections();
}

void Worker::acceptConnections() {
  for (int i = 0; i < kAcceptBurst && !draining_; ++i) {
    sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        LOG_ERROR("cannot accept connections", {"error", std::strerror(errno)});
        event_del(accept_event_);
        accept_retry_timer_->arm(std::chrono::milliseconds(100));
      }
      return;  // EAGAIN: another worker took it, or nothing left
    }
    if (!connection_limit_.tryAcquire()) {
      // Answered and closed at once: an idle flood costs a socket for microseconds.
      metrics_.limitHit(LimitHit::kConnections).Increment();
      static log::RateLimit refused_lines(1);
      LOG_LIMITED(refused_lines, log::Level::kWarn, "max connections reached: connection refused",
                  {"peer", peerAddress(peer)},
                  {"max_connections", std::to_string(config_.max_connections)});
      ssize_t ignored = ::send(fd, kTooManyConnections.data(), kTooManyConnections.size(),
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)ignored;
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    open_connections_.fetch_add(1, std::memory_order_relaxed);
    downstream_connections_.Increment();
    auto detector = std::make_unique<ProtocolDetector>(
        loop_, fd, config_.idle_timeout,
        [this, peer_address = peerAddress(peer)](ProtocolDetector* d, int detected_fd,
                                                 DownstreamProtocol protocol) mutable {
          onDetected(d, detected_fd, protocol, std::move(peer_address));
        });
    ProtocolDetector* raw = detector.get();
    detectors_.emplace(raw, std::move(detector));
    raw->start();
  }
}

void Worker::onDetected(ProtocolDetector* detector, int fd, DownstreamProtocol protocol,
                        std::string peer_address) {
  // Called from inside the detector: it is freed later.
  auto it = detectors_.find(detector);
  if (it != detectors_.end()) {
    finished_detectors_.push_back(std::move(it->second));
    detectors_.erase(it);
    collect_timer_->arm(std::chrono::milliseconds(0));
  }
  std::shared_ptr<ClientConnection> connection;
  if (protocol == DownstreamProtocol::kHttp1) {
    connection = std::make_shared<DownstreamConnection>(*this, fd, std::move(peer_address));
  } else if (protocol == DownstreamProtocol::kHttp2) {
    auto http2 = std::make_shared<CodecConnection>(*this, fd, std::move(peer_address));
    auto codec = http2::Http2ServerCodec::create(*http2, http2Limits(config_));
    if (codec.ok()) {
      http2->attach(std::move(codec.value()));
      connection = std::move(http2);
    } else {
      LOG_ERROR("cannot start an HTTP/2 session", {"error", codec.status().message()});
    }  // the connection's destructor closes the socket
  }
  if (connection == nullptr) {
    connection_limit_.release();
    open_connections_.fetch_sub(1, std::memory_order_relaxed);
    downstream_connections_.Decrement();
    return;
  }
  ClientConnection* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
  raw->start();
}

void Worker::closeConnection(ClientConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
  connection_limit_.release();
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
  downstream_connections_.Decrement();
  collect_timer_->arm(std::chrono::milliseconds(0));
}

void Worker::drain() {
  loop_.post([this] {
    draining_ = true;
    event_del(accept_event_);
    accept_retry_timer_->disarm();
    // Nothing was asked on these yet. cancel() edits detectors_: iterate a copy.
    std::vector<ProtocolDetector*> detecting;
    for (auto& [raw, detector] : detectors_) detecting.push_back(raw);
    for (ProtocolDetector* detector : detecting) detector->cancel();
    // drain() may close a connection, which edits connections_: iterate a copy.
    std::vector<std::shared_ptr<ClientConnection>> open;
    open.reserve(connections_.size());
    for (auto& [raw, connection] : connections_) open.push_back(connection);
    for (auto& connection : open) connection->drain();
  });
}

void Worker::stop() {
  loop_.exit();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dedup
