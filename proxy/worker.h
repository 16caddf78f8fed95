// Worker: one thread, one event loop, and everything that loop serves: the
// accepted downstream connections, the upstream pool, this worker's handle on
// the dedup store. Workers share only the listening socket (each accepts from
// it), the read-only Config and routes, the store backend, the metrics, and
// the process-wide limits (connection count, buffer budget).
//
// Control from other threads goes through post(): start(), drain() and
// stop() are thread-safe; everything else runs on the worker's own thread.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/event_loop.h"
#include "dedup_store/dedup_store.h"
#include "metrics/metrics.h"
#include "proxy/buffer_budget.h"
#include "proxy/config/config.h"
#include "proxy/config/route_table.h"
#include "proxy/delivery.h"
#include "proxy/downstream/protocol_detector.h"
#include "proxy/upstream/upstream_pool.h"

struct event;

namespace dedup {

class ClientConnection;
class ConnectionLimit;

class Worker {
 public:
  // `waiters`: the process's table for wait mode (null: no waiting).
  Worker(const Config& config, const RouteTable& routes, StoreBackend& backend, Metrics& metrics,
         int listen_fd, const UpstreamOptions& upstream, BufferBudget& budget,
         ConnectionLimit& connection_limit, InFlightWaiters* waiters = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread; it accepts connections from the listening socket.
  void start();
  // Stops accepting, lets connections finish what they were asked, and closes
  // them as they become idle. Thread-safe.
  void drain();
  // Open downstream connections plus deliveries still running. Thread-safe.
  size_t busy() const {
    return open_connections_.load(std::memory_order_relaxed) +
           context_->active_deliveries.load(std::memory_order_relaxed);
  }
  // Ends the loop and joins the thread. Thread-safe; call once.
  void stop();

  // For this worker's connections and deliveries (worker thread only).
  EventLoop& loop() { return loop_; }
  const Config& config() const { return config_; }
  const RouteTable& routes() const { return routes_; }
  DeliveryContext& deliveryContext() { return *context_; }
  BufferBudget& budget() { return budget_; }
  Metrics& metrics() { return metrics_; }
  bool draining() const { return draining_; }
  // Frees the connection later, never inside its own callback.
  void closeConnection(ClientConnection* connection);

 private:
  static void onAcceptable(int fd, short, void* self);
  void acceptConnections();
  // The protocol of an accepted connection is known: hand the socket over.
  void onDetected(ProtocolDetector* detector, int fd, DownstreamProtocol protocol,
                  std::string peer_address);

  const Config& config_;
  const RouteTable& routes_;
  StoreBackend& backend_;
  Metrics& metrics_;
  BufferBudget& budget_;
  ConnectionLimit& connection_limit_;
  int listen_fd_;
  // Declared before the loop so it outlives every delivery still queued there.
  std::unique_ptr<DeliveryContext> context_;
  EventLoop loop_;
  std::unique_ptr<DedupStore> store_;
  std::unique_ptr<Upstream> upstream_;  // UpstreamPool (HTTP/1.1) or H2cPool
  event* accept_event_ = nullptr;
  // Accepted sockets whose first bytes are not in yet (HTTP/1.1 or HTTP/2?).
  std::unordered_map<ProtocolDetector*, std::unique_ptr<ProtocolDetector>> detectors_;
  std::vector<std::unique_ptr<ProtocolDetector>> finished_detectors_;
  std::unordered_map<ClientConnection*, std::shared_ptr<ClientConnection>> connections_;
  std::vector<std::shared_ptr<ClientConnection>> closed_;
  TimerPtr collect_timer_;
  TimerPtr accept_retry_timer_;  // after EMFILE: accept again a little later
  prometheus::Gauge& downstream_connections_;
  std::atomic<size_t> open_connections_{0};
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace dedup
