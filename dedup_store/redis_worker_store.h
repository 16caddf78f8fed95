// One worker's part of the Redis store (redis_store.h): a DedupStore that
// owns one hiredis async connection on that worker's event loop, and what all
// workers share with the backend.
//
// Thread-safety: RedisShared's atomics are read and written from any thread,
// the rest is immutable after open; a worker store is used on its loop's
// thread only, and destroying it closes its connection and drops pending
// callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/event_loop.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/redis_scripts.h"
#include "dedup_store/redis_uri.h"

namespace dedup {

// What every worker's store shares with the backend.
struct RedisShared {
  RedisOptions options;
  // Resolved at open, so workers do no DNS: the server, or the Sentinels.
  RedisAddress server;
  std::vector<RedisAddress> sentinels;
  RedisScripts scripts;
  std::atomic<bool> healthy{true};  // false while the last connection attempt failed
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> commits{0};
};

DedupStorePtr attachRedisWorkerStore(std::shared_ptr<RedisShared> shared, EventLoop& loop);

}  // namespace dedup
