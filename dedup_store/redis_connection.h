// One hiredis async connection to one Redis node on one worker's event loop,
// as every Redis store mode uses it (redis_store.h): the handshake, our own
// command timeouts (hiredis 0.14 has none), the health check, reconnects with
// backoff, and NOSCRIPT reloads.
//
// Handshake on every (re)connect: AUTH (when a password is set), SELECT (not
// in cluster mode), INFO server (refused below Redis 5: the scripts call TIME
// before writing, which needs effect replication), ROLE with Sentinel (a stale
// answer may name a replica), SCRIPT LOAD of every script. Commands wait until
// the handshake has succeeded, so a failed AUTH or SELECT fails them instead
// of letting them run in the wrong database.
//
// Sentinel: every (re)connect first asks the Sentinels where the master is.
// A READONLY reply drops the connection, so the next use asks again.
//
// Thread-safety: used on its loop's thread only. Destroying it frees the
// connection and drops pending handlers without running them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/status.h"
#include "dedup_store/redis_scripts.h"
#include "dedup_store/redis_uri.h"

struct redisAsyncContext;
struct redisReply;

namespace dedup {

class SentinelResolver;

class RedisConnection {
 public:
  // Runs once per command: the reply (alive during the call only; error
  // replies included, except NOSCRIPT, which is handled) or a failure
  // (Unavailable: not sent or connection lost; Timeout).
  using Handler = std::function<void(StatusOr<const redisReply*>)>;
  using HealthCallback = std::function<void(bool healthy)>;

  struct Settings {
    RedisAddress server;                  // the node (ignored with Sentinels)
    std::vector<RedisAddress> sentinels;  // not empty: ask these for the master
    bool cluster = false;                 // no SELECT (a cluster has database 0 only)
  };

  // `options` and `scripts` must outlive the connection. Does not connect:
  // the first command or probe() does.
  RedisConnection(EventLoop& loop, const RedisOptions& options, const RedisScripts& scripts,
                  Settings settings, HealthCallback on_health);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // EVALSHA `script` 1 args… (args[0] is KEYS[1]); with `asking`, ASKING goes
  // right before it (a cluster ASK redirection). `handle` may run inside this
  // call when the command cannot be queued (backoff, closed).
  void evalsha(const RedisScript& script, std::vector<std::string> args,
               std::chrono::milliseconds timeout, bool asking, Handler handle);
  // Any command, e.g. CLUSTER SHARDS.
  void command(std::vector<std::string> args, std::chrono::milliseconds timeout, Handler handle);

  // The health check, to call about once a second: reconnects a dropped
  // connection, PINGs an open one, drops one whose PING went unanswered.
  void probe();
  // Fails every pending command with `why` and drops the connection.
  void fail(const Status& why);

  // False after a failed connection attempt, until a handshake succeeds.
  bool healthy() const { return healthy_; }
  bool idle() const { return pending_.empty(); }
  const RedisAddress& target() const { return target_; }
  const std::string& lastError() const { return last_error_; }

 private:
  struct Pending {
    const RedisScript* script = nullptr;  // null: a plain command
    std::vector<std::string> args;
    Handler handle;
    TimerPtr timer;
    bool asking = false;
    bool reloaded = false;
    bool sent = false;
  };

  void submit(uintptr_t id, Pending p, std::chrono::milliseconds timeout);
  bool send(uintptr_t id, Pending& p);
  bool sendPlain(uintptr_t id, const std::vector<std::string>& args);
  bool sentinelMode() const { return !settings_.sentinels.empty(); }
  std::string where() const;
  bool ensureConnected();
  bool connect();
  void setHealthy(bool healthy);
  void attemptFailed();
  void handshakeDone();
  void detach(const Status& why, bool free_ctx);
  void onTimeout(uintptr_t id);
  void onHandshakeReply(uintptr_t id, const redisReply* reply);
  void onReply(uintptr_t id, const redisReply* reply);

  static void onReplyStatic(redisAsyncContext* ac, void* reply, void* privdata);
  static void onConnectStatic(const redisAsyncContext* ac, int status);
  static void onDisconnectStatic(const redisAsyncContext* ac, int status);

  EventLoop& loop_;
  const RedisOptions& options_;
  const RedisScripts& scripts_;
  const Settings settings_;
  HealthCallback on_health_;

  std::unique_ptr<SentinelResolver> resolver_;  // Sentinel mode, made on first use
  bool resolving_ = false;                      // the Sentinels are being asked
  RedisAddress target_;                         // the server of the current connection
  redisAsyncContext* ctx_ = nullptr;            // null while disconnected
  bool ready_ = false;                          // the handshake succeeded
  bool healthy_ = true;
  TimerPtr connect_timer_;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point ping_sent_{};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_;
  std::string last_error_ = "redis: not connected";

  uintptr_t next_id_;
  std::map<uintptr_t, Pending> pending_;  // in id (= send) order
  std::vector<TimerPtr> retired_timers_;  // fired or answered; freed outside their callbacks
};

}  // namespace dedup
