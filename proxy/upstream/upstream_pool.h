// UpstreamPool: one worker's keep-alive HTTP/1.1 connections to the app.
//
// send() takes a request and calls back exactly once, on the worker's loop,
// with the app's response or why there is none. At most `max_connections`
// are open; further requests wait in FIFO order for a free connection, at
// most `max_waiting` of them (beyond, kOverloaded at once: 503 to the sender). A
// connection is reused only after a complete response that allows keep-alive;
// anything unusual (timeout, malformed answer, early close) closes it.
// Pending callbacks are dropped without running when the pool is destroyed.
// Thread-safety: the owning worker's thread only.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/http_message.h"
#include "proxy/upstream/upstream.h"

namespace dedup {

struct UpstreamOptions {
  sockaddr_storage address{};
  socklen_t address_len = 0;
  // From send() to the end of the answer; while a body streams, the longest
  // the app may send nothing while the sender is ready for more.
  std::chrono::milliseconds timeout{30000};
  int max_connections = 64;
  size_t max_header_bytes = 64 * 1024;
  // A response body up to this is buffered and delivered whole; a longer one
  // is streamed (UpstreamResult::body). The server sets --max-stored-body:
  // a streamed body is never stored, so the stored copy is known at its head.
  size_t max_buffered_body = 64 * 1024;
  size_t max_waiting = 1024;
  std::function<void()> on_queue_full;  // counts a refusal for max_waiting; may be empty
  // h2c only: the longest answer body buffered whole (h2c answers do not
  // stream yet; a longer one is a bad response).
  size_t max_body_bytes = 8 * 1024 * 1024;
  bool h2c = false;  // HTTP/2 with prior knowledge (H2cPool) instead of HTTP/1.1
};

class UpstreamConnection;

class UpstreamPool : public Upstream {
 public:
  UpstreamPool(EventLoop& loop, UpstreamOptions options);
  ~UpstreamPool() override;
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  void send(Request request, UpstreamCallback done) override;

  size_t openConnections() const { return connections_.size(); }
  size_t waitingRequests() const { return waiting_.size(); }

 private:
  friend class UpstreamConnection;
  struct Exchange {
    Request request;
    UpstreamCallback done;
    std::chrono::steady_clock::time_point deadline;
  };

  void dispatch();
  // Called by a connection when it is free again (reusable) or gone.
  void onConnectionIdle(UpstreamConnection& connection);
  void onConnectionClosed(UpstreamConnection& connection);
  void collectClosed();

  EventLoop& loop_;
  UpstreamOptions options_;
  std::list<std::unique_ptr<UpstreamConnection>> connections_;
  std::deque<Exchange> waiting_;
  // Closed connections are freed from a timer, never inside their own callback.
  std::vector<std::unique_ptr<UpstreamConnection>> closed_;
  TimerPtr collect_timer_;
  TimerPtr waiting_timer_;  // times out requests still waiting for a connection
};

}  // namespace dedup
