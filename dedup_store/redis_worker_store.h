// One worker's part of the Redis store (redis_store.h): a DedupStore on that
// worker's event loop that runs the store's Lua scripts through a
// RedisScriptRunner (one connection for redis:// and redis-sentinel://, a
// slot map of connections for redis-cluster://), and keeps the leases it
// holds alive.
//
// Leases: Redis keeps a lease for a few seconds only (kHolderLease) and the
// worker that holds it renews it every second (one pipelined EVALSHA per
// lease) until it commits or releases, or the route's lease has passed. A
// proxy that dies stops renewing, so its leases free up within seconds; a
// live one's never expire while the app works. No host or process identity
// is involved (two proxies on one host are two holders), and each renewal
// touches one key, so it runs on one cluster slot. A proxy cut off from Redis
// cannot renew: its lease runs out and another delivery may take the key,
// but the holder's late commit or release is refused by its fencing token
// (counted as a lost lease), and a begin whose answer comes later than the
// command deadline (shorter than kHolderLease) is never trusted.
//
// Thread-safety: RedisShared's atomics are read and written from any thread,
// the rest is immutable after open; a worker store is used on its loop's
// thread only, and destroying it closes its connections and drops pending
// callbacks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/redis_connection.h"
#include "dedup_store/redis_scripts.h"
#include "dedup_store/redis_uri.h"

namespace dedup {

// How long Redis keeps a lease past its last renewal (at least; longer when
// the command timeout is long, see holderLease()).
constexpr std::chrono::milliseconds kHolderLease{3000};
// How often the holder renews its leases.
constexpr std::chrono::milliseconds kRenewInterval{1000};

// The lease Redis keeps between renewals: a renewal is sent every
// kRenewInterval and may take the command timeout to run, with a second to
// spare.
inline std::chrono::milliseconds redisHolderLease(const RedisOptions& options) {
  return std::max(kHolderLease,
                  options.command_timeout + kRenewInterval + std::chrono::milliseconds(1000));
}

// What every worker's store shares with the backend.
struct RedisShared {
  RedisOptions options;
  // Resolved at open, so workers do no DNS: the server, or the Sentinels, or
  // the cluster's seed nodes.
  RedisAddress server;
  std::vector<RedisAddress> sentinels;
  std::vector<RedisAddress> cluster_seeds;
  RedisScripts scripts;
  // Workers whose Redis is unreachable now: /readyz is ready at 0 only, so
  // workers never overwrite each other's verdict.
  std::atomic<int> unhealthy_workers{0};
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> commits{0};

  std::chrono::milliseconds holderLease() const { return redisHolderLease(options); }
};

// Runs the store's scripts on the node that holds their key.
class RedisScriptRunner {
 public:
  using Handler = RedisConnection::Handler;
  virtual ~RedisScriptRunner() = default;
  // EVALSHA `script` with args (args[0] is KEYS[1]) on the node that holds
  // args[0], within the command timeout. `handle` runs once, maybe inside
  // this call.
  virtual void run(const RedisScript& script, std::vector<std::string> args, Handler handle) = 0;
  // The health check, called every second.
  virtual void probe() = 0;
};
// `on_health(false)` when the runner cannot reach Redis, `(true)` when it can.
using RedisRunnerFactory = std::function<std::unique_ptr<RedisScriptRunner>(
    EventLoop& loop, std::function<void(bool healthy)> on_health)>;

// redis:// and redis-sentinel://: one connection.
std::unique_ptr<RedisScriptRunner> makeSingleRedisRunner(const RedisShared& shared, EventLoop& loop,
                                                         std::function<void(bool)> on_health);

DedupStorePtr attachRedisWorkerStore(std::shared_ptr<RedisShared> shared, EventLoop& loop,
                                     RedisRunnerFactory make_runner);

}  // namespace dedup
