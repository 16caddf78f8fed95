// AdminServer: the admin port, on its own thread and loop so a slow scrape
// never delays deliveries. Serves /metrics (Prometheus text format),
// /healthz (the process is alive and can recover by itself: 503 once the
// store failed for good, so a liveness probe restarts it), /readyz (ready to take deliveries:
// started, not draining, store healthy) and /keys/... (AdminKeyApi).
// Everything else is 404.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "common/event_loop.h"
#include "common/status.h"
#include "proxy/admin/admin_key_api.h"

struct evhttp;
struct evhttp_request;

namespace dedup {

class AdminServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  // exposition text
    std::function<bool()> ready;
    std::function<bool()> alive;
    AdminKeyApi* keys = nullptr;
  };

  AdminServer(int listen_fd, Handlers handlers);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  Status start();
  void stop();

 private:
  static void onRequest(evhttp_request* request, void* self);
  void handle(evhttp_request* request);

  int listen_fd_;
  Handlers handlers_;
  EventLoop loop_;
  evhttp* http_ = nullptr;
  std::thread thread_;
};

}  // namespace dedup
