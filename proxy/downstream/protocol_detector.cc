#include "proxy/downstream/protocol_detector.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace dedup {
namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

ProtocolDetector::ProtocolDetector(EventLoop& loop, int fd, std::chrono::milliseconds deadline,
                                   Done done)
    : fd_(fd),
      deadline_(deadline),
      done_(std::move(done)),
      event_(event_new(loop.base(), fd, EV_READ | EV_PERSIST, &ProtocolDetector::onReadable, this)),
      deadline_timer_(loop.createTimer([this] { finish(DownstreamProtocol::kClosed); })) {}

ProtocolDetector::~ProtocolDetector() {
  event_free(event_);
  if (!finished_) ::close(fd_);  // the worker is going away with it undecided
}

void ProtocolDetector::start() {
  deadline_timer_->arm(deadline_);
  // Most senders write their first request right after connecting: look now.
  detect();
  if (!finished_) event_add(event_, nullptr);
}

void ProtocolDetector::onReadable(int, short, void* self) {
  static_cast<ProtocolDetector*>(self)->detect();
}

void ProtocolDetector::detect() {
  if (finished_) return;
  char head[kHttp2Preface.size()];
  const ssize_t n = recv(fd_, head, sizeof(head), MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    finish(DownstreamProtocol::kClosed);
    return;
  }
  if (n == 0) {
    finish(DownstreamProtocol::kClosed);
    return;
  }
  const std::string_view seen(head, static_cast<size_t>(n));
  if (seen != kHttp2Preface.substr(0, seen.size())) {
    finish(DownstreamProtocol::kHttp1);
  } else if (seen.size() == kHttp2Preface.size()) {
    finish(DownstreamProtocol::kHttp2);
  }
  // A prefix of the preface: wait for more.
}

void ProtocolDetector::cancel() { finish(DownstreamProtocol::kClosed); }

void ProtocolDetector::finish(DownstreamProtocol protocol) {
  if (finished_) return;
  finished_ = true;
  event_del(event_);
  deadline_timer_->disarm();
  int fd = fd_;
  if (protocol == DownstreamProtocol::kClosed) {
    ::close(fd_);
    fd = -1;
  }
  done_(this, fd, protocol);
}

}  // namespace dedup
