// redis-cluster://: runs the store's scripts on the master that serves their
// key's slot (redis_cluster_map.h), for one worker, on its loop.
//
// - One RedisConnection per master this worker talks to (same handshake,
//   timeouts and health check as the single-Redis store; no SELECT).
// - The slot map comes from CLUSTER SHARDS (CLUSTER SLOTS before Redis 7),
//   asked of the known masters, then the seeds, in turn, until one answers;
//   asked again after MOVED, after a connection is lost, while the map has
//   holes, and every few seconds.
// - MOVED: the slot's owner is updated at once and the command resent there;
//   ASK: resent there once, after ASKING, without changing the map;
//   TRYAGAIN, CLUSTERDOWN: retried after a short backoff; all of it within
//   the command timeout, and at most kMaxHops redirections, else a store
//   error. A command whose connection failed is not resent (it may have run):
//   it fails with Unavailable, as with a single Redis.
// - Healthy when the map covers every slot and every master's connection is.
//
// Thread-safety: used on its loop's thread only; destroying it drops pending
// handlers without running them.
#pragma once

#include <functional>
#include <memory>

#include "common/event_loop.h"
#include "dedup_store/redis_worker_store.h"

namespace dedup {

constexpr int kMaxHops = 5;

std::unique_ptr<RedisScriptRunner> makeClusterRedisRunner(const RedisShared& shared,
                                                          EventLoop& loop,
                                                          std::function<void(bool)> on_health);

}  // namespace dedup
