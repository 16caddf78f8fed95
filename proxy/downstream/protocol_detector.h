// ProtocolDetector: tells, for one accepted connection, HTTP/2 with prior
// knowledge (its first 24 bytes are the client preface "PRI * HTTP/2.0...")
// from HTTP/1.1, by peeking at the socket (MSG_PEEK), so the bytes stay there
// for whichever connection takes the socket over. HTTP/1.1 is decided at the
// first byte that leaves the preface; HTTP/2 needs the whole preface.
//
// The Worker owns it until it reports; it never closes the socket itself
// except through `done` with kClosed. Thread-safety: the worker's thread.
#pragma once

#include <chrono>
#include <functional>

#include "common/event_loop.h"

struct event;

namespace dedup {

enum class DownstreamProtocol {
  kHttp1,
  kHttp2,
  kClosed,  // the sender left, or sent nothing telling within the deadline; fd closed
};

class ProtocolDetector {
 public:
  using Done = std::function<void(ProtocolDetector*, int fd, DownstreamProtocol)>;

  ProtocolDetector(EventLoop& loop, int fd, std::chrono::milliseconds deadline, Done done);
  ~ProtocolDetector();
  ProtocolDetector(const ProtocolDetector&) = delete;
  ProtocolDetector& operator=(const ProtocolDetector&) = delete;

  void start();
  // Gives up (shutdown): the socket is closed.
  void cancel();

 private:
  static void onReadable(int fd, short, void* self);
  void detect();
  void finish(DownstreamProtocol protocol);

  int fd_;
  std::chrono::milliseconds deadline_;
  Done done_;
  event* event_;
  TimerPtr deadline_timer_;
  bool finished_ = false;
};

}  // namespace dedup
