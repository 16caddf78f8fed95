// The shared store: key state in Redis, so every replica sees every key
// (DESIGN.md "Choosing the store").
//
// Each worker's DedupStore (redis_worker_store.h) owns its hiredis async
// connections (redis_connection.h) on that worker's event_base: one with
// redis:// and redis-sentinel://, one per master it talks to with
// redis-cluster:// (redis_cluster_runner.h). They open as soon as that loop
// runs (attach() may run on another thread before the loop does). A health
// check every second pings an open connection and reopens a dropped one, so
// healthy() (and /readyz) follows Redis even while no delivery asks; it is
// false while any worker cannot reach Redis. Every operation is one EVALSHA
// round trip of a Lua script touching one key, so each transition is atomic
// in Redis and runs on one cluster slot; a NOSCRIPT reply (after SCRIPT
// FLUSH, a restart or a failover) re-loads the script and retries once.
// Leases are kept alive by their holder (redis_worker_store.h).
//
// One Redis key per message: prefix + the 16 raw bytes of StoreKey (binary,
// for memory). Its value is a lease or a committed record (redis_scripts.h,
// redis_record.h).
//
// Failures: every command is timed out by our own timer (Timeout; the
// connection is then dropped); a dropped connection answers each pending
// operation once with Unavailable; the next use or health check reconnects, with backoff
// (100 ms doubling to 2 s) after failed attempts, and fails fast with
// Unavailable until the backoff has passed.
//
// Sentinel (redis-sentinel://): every (re)connect first asks the Sentinels
// where the master is (redis_sentinel.h; operations wait for it, each under
// its own timeout), then checks with ROLE that the node is a master. A
// replica (stale answer) or a READONLY reply drops the connection, so the
// next use asks again: a failover is followed without a restart.
//
// Thread-safety: the backend is thread-safe; each DedupStore is used on its
// loop's thread only; destroying it closes its connection and drops pending
// callbacks.
#pragma once

#include "common/status.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/redis_uri.h"

namespace dedup {

// Does not connect: each worker connects from its own loop; healthy() turns
// false while the last connection attempt failed.
StatusOr<StoreBackendPtr> openRedisStore(const RedisOptions& options);

}  // namespace dedup
