// Asks Redis Sentinels where a master is (SENTINEL get-master-addr-by-name),
// asynchronously on one worker's event loop, trying each Sentinel in turn
// until one names the master. The Redis store asks again at every
// (re)connect, which is how it follows a failover without a restart.
//
// Each Sentinel gets `timeout` for connecting and answering. The answer is an
// address as the Sentinel announces it (an IP unless the Sentinels run with
// resolve-hostnames/announce-hostnames; a host name would be resolved by
// hiredis on the loop).
//
// Thread-safety: used on its loop's thread only. Destroying it drops a query
// in progress without calling back.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/status.h"
#include "dedup_store/redis_uri.h"

struct redisAsyncContext;

namespace dedup {

class SentinelResolver {
 public:
  using Callback = std::function<void(StatusOr<RedisAddress>)>;

  // `sentinels` must be IP addresses (resolved before, off the loop).
  SentinelResolver(EventLoop& loop, std::vector<RedisAddress> sentinels, std::string master_name,
                   std::chrono::milliseconds timeout);
  ~SentinelResolver();
  SentinelResolver(const SentinelResolver&) = delete;
  SentinelResolver& operator=(const SentinelResolver&) = delete;

  // Starts a query; `done` runs once, later, on the loop (never inside this
  // call): the master's address, or Unavailable naming what each Sentinel
  // said. A query already running is abandoned without calling back.
  void resolve(Callback done);

 private:
  void tryNext();
  void onReply(const void* reply);
  void fail(const std::string& why);
  void drop(bool free_ctx);
  void finish(StatusOr<RedisAddress> result);
  const RedisAddress& current() const { return sentinels_[next_ - 1]; }

  static void onReplyStatic(redisAsyncContext* ac, void* reply, void* privdata);
  static void onConnectStatic(const redisAsyncContext* ac, int status);
  static void onDisconnectStatic(const redisAsyncContext* ac, int status);

  EventLoop& loop_;
  const std::vector<RedisAddress> sentinels_;
  const std::string master_name_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  Callback done_;       // empty: no query running
  size_t next_ = 0;     // the next Sentinel to ask
  std::string errors_;  // what each Sentinel asked so far said
  redisAsyncContext* ctx_ = nullptr;
  TimerPtr timer_;
};

}  // namespace dedup
