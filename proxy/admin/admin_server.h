// AdminServer: the admin port, on its own thread and loop so a slow scrape
// never delays deliveries. Serves /metrics (Prometheus text format),
// /healthz (the process is alive and can recover by itself: 503 once the
// store failed for good, so a liveness probe restarts it), /readyz (ready to take deliveries:
// started, not draining, store healthy) and /keys/... (AdminKeyApi).
// Everything else is 404.
//
// Bounded like the data port: small header and body limits, a read and idle
// deadline, a cap on open connections (at the cap the port stops accepting
// until one closes). /keys/... runs on the key API's own thread, so /healthz
// and /readyz never wait behind it; by default it answers only loopback
// peers (403 to others), so /metrics can be scraped from outside the pod
// while the key API stays local.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "common/status.h"
#include "proxy/admin/admin_key_api.h"

struct bufferevent;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

namespace dedup {

class AdminServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  // exposition text
    std::function<bool()> ready;
    std::function<bool()> alive;
    AdminKeyApi* keys = nullptr;
    std::function<void()> on_connection_limit;  // counts the port reaching its cap; may be empty
  };
  struct Limits {
    size_t max_connections = 64;
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    bool keys_from_any_peer = false;  // false: /keys/... only from loopback
  };
  // Requests are small: a path and a few headers (Authorization), no body.
  static constexpr long kMaxHeaderBytes = 8 * 1024;
  static constexpr long kMaxBodyBytes = 1024;

  AdminServer(int listen_fd, Handlers handlers, Limits limits);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  Status start();
  void stop();

 private:
  static void onRequest(evhttp_request* request, void* self);
  static bufferevent* onConnection(event_base* base, void* self);
  void handle(evhttp_request* request);
  void handleKeys(evhttp_request* request, const char* path);
  // Forgets connections evhttp has closed; stops or resumes accepting.
  void countConnections(bool sweep = true);

  int listen_fd_;
  Handlers handlers_;
  Limits limits_;
  // Shared with /keys answers coming back from the key API's thread: they
  // post here only while the loop is alive.
  std::shared_ptr<EventLoop> loop_;
  evhttp* http_ = nullptr;
  evhttp_bound_socket* bound_ = nullptr;
  // Every connection's bufferevent, with a reference of ours, so we see when
  // evhttp has closed it (its callbacks are cleared) and can count.
  std::vector<bufferevent*> connections_;
  bool accepting_ = true;
  TimerPtr recount_timer_;
  std::thread thread_;
};

}  // namespace dedup
