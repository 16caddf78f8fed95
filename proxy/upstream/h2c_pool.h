// H2cPool: one worker's h2c (HTTP/2, prior knowledge) connections to the app,
// behind the same Upstream interface as the HTTP/1.1 UpstreamPool. A small
// pool: requests share one connection as streams; another is opened only when
// every open one carries as many streams as the app allows (at most
// min(max_connections, 4) per worker). Each exchange has the same timeout and
// error kinds as over HTTP/1.1; a connection that fails ends every exchange
// on it as kUnreachable. Pending callbacks are dropped without running when
// the pool is destroyed. Thread-safety: the owning worker's thread only.
#pragma once

#include <list>
#include <memory>
#include <vector>

#include "common/event_loop.h"
#include "proxy/upstream/upstream.h"
#include "proxy/upstream/upstream_pool.h"

namespace dedup {

class H2cConnection;

class H2cPool : public Upstream {
 public:
  H2cPool(EventLoop& loop, UpstreamOptions options);
  ~H2cPool() override;
  H2cPool(const H2cPool&) = delete;
  H2cPool& operator=(const H2cPool&) = delete;

  void send(Request request, UpstreamCallback done) override;

  size_t openConnections() const { return connections_.size(); }

 private:
  friend class H2cConnection;
  H2cConnection* pick();
  // Called by a connection once it is closed; it is freed later.
  void onConnectionClosed(H2cConnection& connection);

  EventLoop& loop_;
  UpstreamOptions options_;
  std::list<std::unique_ptr<H2cConnection>> connections_;
  std::vector<std::unique_ptr<H2cConnection>> closed_;
  TimerPtr collect_timer_;
};

}  // namespace dedup
