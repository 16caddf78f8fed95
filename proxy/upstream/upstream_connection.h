// UpstreamConnection: one TCP connection to the app, carrying one exchange at
// a time (no pipelining to the app: a slow answer must not hold up others).
// A body too large to buffer is handed over as an UpstreamBody that reads the
// socket only while the consumer wants more; the connection stays busy until
// that body ends. Owned by UpstreamPool. Thread-safety: the worker's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "proxy/http1/response_decoder.h"
#include "proxy/upstream/upstream_pool.h"

struct bufferevent;

namespace dedup {

class UpstreamConnection {
 public:
  UpstreamConnection(UpstreamPool& pool, EventLoop& loop, const UpstreamOptions& options);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Starts connecting; false if the socket could not even be created.
  bool connect();
  // Sends one request; `done` runs once with the outcome. Only when idle().
  void start(const Request& request, std::chrono::milliseconds timeout, UpstreamCallback done);
  bool idle() const { return state_ == State::kIdle; }
  bool closed() const { return state_ == State::kClosed; }

 private:
  enum class State { kConnecting, kIdle, kBusy, kClosed };
  class BodyStream;

  // Streaming a body (stream_ set): the head went to the caller, the rest
  // follows through stream_'s handler.
  void handOverHead();
  void streamBody();
  void endBody();
  void failBody(std::string error);
  void pauseBody();
  void resumeBody();
  void cancelBody();
  void detachStream();

  static void onRead(bufferevent*, void* self);
  static void onEvent(bufferevent*, short events, void* self);
  void readResponse();
  void finish(UpstreamResult result, bool reusable);
  void fail(UpstreamResult::Kind kind, std::string error);
  void close();

  UpstreamPool& pool_;
  const UpstreamOptions& options_;
  bufferevent* bev_ = nullptr;
  State state_ = State::kConnecting;
  std::string request_bytes_;  // reused: no allocation per request once warm
  http1::ResponseDecoder decoder_;
  UpstreamCallback done_;
  TimerPtr timeout_;
  TimerPtr resume_timer_;  // runs streamBody() on the loop after resume()
  std::shared_ptr<BodyStream> stream_;
  bool body_paused_ = false;
  bool eof_ = false;  // the app closed; input may still hold body bytes
  bool head_request_ = false;
};

}  // namespace dedup
