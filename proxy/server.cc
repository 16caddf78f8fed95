#include "proxy/server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "common/log.h"
#include "dedup_store/open_store.h"
#include "metrics/metrics.h"
#include "metrics/process_metrics.h"
#include "proxy/admin/admin_server.h"
#include "proxy/buffer_budget.h"
#include "proxy/config/route_table.h"
#include "proxy/cpu_count.h"
#include "proxy/downstream/connection_limit.h"
#include "proxy/downstream/listen_socket.h"
#include "proxy/in_flight_waiters.h"
#include "proxy/worker.h"

namespace dedup {
namespace {

constexpr int kExitConfigError = 2;
constexpr int kExitRuntimeError = 1;
constexpr int kExitStoreFailed = 3;

// Blocks the stop signals and SIGHUP in every thread (workers inherit the
// mask), so only sigwait() in the main thread ever sees them.
sigset_t blockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// Waits for SIGTERM/SIGINT, checking the store every 100ms and calling
// `on_hangup` for each SIGHUP. OK: a stop signal came; otherwise the store's
// fatal error.
Status waitForStopOrStoreFailure(const sigset_t& stop_signals, const StoreBackend& store,
                                 const std::function<void()>& on_hangup) {
  const timespec poll{0, 100'000'000};
  for (;;) {
    if (Status failure = store.fatalError(); !failure.ok()) return failure;
    const int signal_number = sigtimedwait(&stop_signals, nullptr, &poll);
    if (signal_number == SIGHUP) on_hangup();
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      LOG_INFO("stop signal", {"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"});
      return Status::OK();
    }
  }
}

}  // namespace

int Server::run() {
  const sigset_t stop_signals = blockStopSignals();

  auto built = buildRoutes(config_);
  if (!built.ok()) {
    std::fprintf(stderr, "dedup-proxy: %s\n", built.status().message().c_str());
    return kExitConfigError;
  }
  RouteTable& routes = *built.value();
  for (const std::string& warning : retryHorizonWarnings(routes)) {
    LOG_WARN("route ttl is shorter than its sender's retry horizon", {"detail", warning});
  }

  UpstreamOptions upstream;
  upstream.timeout = config_.upstream_timeout;
  upstream.max_connections = config_.upstream_max_connections;
  upstream.max_header_bytes = config_.max_header_bytes;
  upstream.max_buffered_body = config_.max_stored_body;
  upstream.max_waiting = static_cast<size_t>(config_.upstream_max_waiting);
  upstream.max_body_bytes = config_.max_body_bytes;
  upstream.h2c = config_.upstream_protocol == UpstreamProtocol::kH2c;
  if (Status s = resolveUpstream(config_.upstream, &upstream); !s.ok()) {
    std::fprintf(stderr, "upstream: %s\n", s.message().c_str());
    return kExitConfigError;
  }

  StoreOptions store_options;
  store_options.uri = config_.store;
  store_options.redis_prefix = config_.redis_prefix;
  store_options.redis_connect_timeout = config_.redis_connect_timeout;
  store_options.redis_command_timeout = config_.redis_command_timeout;
  store_options.store_timeout = config_.store_timeout;
  auto backend = openStore(store_options);
  if (!backend.ok()) {
    LOG_ERROR("cannot open the dedup store", {"store", config_.store},
              {"error", backend.status().ToString()});
    return backend.status().code() == Status::Code::kInvalidArgument ? kExitConfigError
                                                                     : kExitRuntimeError;
  }
  StoreBackend& store = *backend.value();

  SocketAddress proxy_address, admin_address;
  auto proxy_fd = openListenSocket(config_.listen, &proxy_address);
  auto admin_fd = openListenSocket(config_.admin, &admin_address);
  for (const auto* fd : {&proxy_fd, &admin_fd}) {
    if (!fd->ok()) {
      LOG_ERROR("cannot listen", {"error", fd->status().message()});
      return kExitRuntimeError;
    }
  }

  Metrics metrics(DEDUP_PROXY_VERSION);
  std::map<std::string, std::string> scopes;
  for (auto& route : routes.routes()) {
    route->metrics = &metrics.route(route->name);
    scopes[route->name] = route->scope;
  }
  if (routes.explicit_routes) routes.unmatched().metrics = &metrics.route("unmatched");
  ProcessMetrics process_metrics(metrics.registry());

  BufferBudget budget(config_.max_buffered_bytes);
  ConnectionLimit connection_limit(static_cast<size_t>(config_.max_connections));
  prometheus::Counter& upstream_queue_full = metrics.limitHit(LimitHit::kUpstreamQueue);
  upstream.on_queue_full = [&upstream_queue_full] { upstream_queue_full.Increment(); };

  std::atomic<bool> ready{false};
  AdminKeyApi key_api(store, std::move(scopes), config_.admin_token);
  AdminServer::Handlers admin_handlers;
  admin_handlers.metrics = [&] {
    const StoreStats stats = store.stats();
    metrics.syncStoreTotals(stats.commits, stats.syncs, stats.queue_full);
    process_metrics.update();
    metrics.bufferedBytes().Set(static_cast<double>(budget.used()));
    metrics.syncLogTotals(log::droppedLines(), log::suppressedLines());
    if (stats.committed_keys_estimate >= 0) {
      metrics.committedKeys().Set(static_cast<double>(stats.committed_keys_estimate));
    }
    return metrics.serialize();
  };
  admin_handlers.ready = [&] { return ready.load() && store.healthy(); };
  admin_handlers.alive = [&] { return store.fatalError().ok(); };
  admin_handlers.keys = &key_api;
  prometheus::Counter& admin_limit = metrics.limitHit(LimitHit::kAdminConnections);
  admin_handlers.on_connection_limit = [&admin_limit] { admin_limit.Increment(); };
  AdminServer::Limits admin_limits;
  admin_limits.max_connections = static_cast<size_t>(config_.admin_max_connections);
  admin_limits.timeout = config_.admin_timeout;
  admin_limits.keys_from_any_peer = config_.admin_keys_remote;
  AdminServer admin(*admin_fd, std::move(admin_handlers), admin_limits);
  if (Status s = admin.start(); !s.ok()) {
    LOG_ERROR("cannot start the admin server", {"error", s.message()});
    return kExitRuntimeError;
  }

  const int worker_count = config_.workers > 0 ? config_.workers : availableCpus();
  // Shared by every worker (a waiter and the delivery it waits for may be on
  // different ones); outlives them.
  InFlightWaiters waiters(static_cast<size_t>(config_.max_waiters_per_key),
                          static_cast<size_t>(config_.max_waiters));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>(config_, routes, store, metrics, *proxy_fd, upstream,
                                               budget, connection_limit, &waiters));
  }
  for (auto& worker : workers) worker->start();
  ready = true;
  const std::string proxy_text = proxy_address.toString();
  const std::string admin_text = admin_address.toString();
  const std::string workers_text = std::to_string(worker_count);
  LOG_INFO("listening", {"proxy", proxy_text}, {"admin", admin_text},
           {"upstream", config_.upstream_text}, {"store", config_.store},
           {"workers", workers_text});

  // SIGHUP re-reads the signature secret files; the workers pick the new
  // keys up with their next request.
  const auto reload_secrets = [&routes] {
    if (routes.signingKeyFiles().empty()) {
      LOG_INFO("SIGHUP: no signature secret files to reload");
    } else if (Status s = reloadSigningKeys(routes); s.ok()) {
      LOG_INFO("SIGHUP: signature secrets reloaded",
               {"files", std::to_string(routes.signingKeyFiles().size())});
    } else {
      LOG_ERROR("SIGHUP: signature secrets not reloaded, the previous ones stay in force",
                {"error", s.message()});
    }
  };
  // Crash-only recovery: a store that failed for good (a failed fsync, a full
  // disk) cannot promise anything any more; the process drains and exits
  // non-zero, and its supervisor starts it again from what is on disk.
  const Status store_failure = waitForStopOrStoreFailure(stop_signals, store, reload_secrets);
  if (!store_failure.ok()) {
    LOG_ERROR("dedup store failed: draining, then exiting to restart from what is on disk",
              {"error", store_failure.ToString()});
  }
  LOG_INFO("draining", {"reason", store_failure.ok() ? "signal" : "store failure"},
           {"drain_timeout", std::to_string(config_.drain_timeout.count()) + "ms"});
  ready = false;
  for (auto& worker : workers) worker->drain();
  waiters.drain();  // waiting duplicates get the in-flight answer now
  const auto deadline = std::chrono::steady_clock::now() + config_.drain_timeout;
  size_t busy = 0;
  do {
    busy = 0;
    for (auto& worker : workers) busy += worker->busy();
    if (busy == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  if (busy > 0) {
    LOG_WARN("drain timeout: closing with deliveries still in flight",
             {"remaining", std::to_string(busy)});
  }
  for (auto& worker : workers) worker->stop();
  ::close(*proxy_fd);
  const Status closed = store.close();
  workers.clear();
  admin.stop();
  ::close(*admin_fd);
  if (!store_failure.ok()) return kExitStoreFailed;
  if (!closed.ok()) {
    LOG_ERROR("store flush failed at shutdown", {"error", closed.ToString()});
    return kExitRuntimeError;
  }
  LOG_INFO("stopped");
  return 0;
}

}  // namespace dedup
