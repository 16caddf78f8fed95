#include "dedup_store/redis_worker_store.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "common/event_loop.h"
#include "dedup_store/redis_record.h"
#include "dedup_store/redis_replies.h"
#include "dedup_store/redis_scripts.h"
#include "dedup_store/redis_sentinel.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Leases are kept this much longer than the lease itself, so the attempt
// count survives the lease's expiry (a redelivery is marked as a repeat).
constexpr milliseconds kLeaseTail = std::chrono::hours(24 * 7);
constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{2000};
// How often a worker checks its connection while nothing else does (a PING,
// or a reconnect), so /readyz follows Redis on an idle proxy too, and the
// first delivery after start finds the connection open.
constexpr milliseconds kProbeInterval{1000};
// Longest TTL we pass to PX (about 100 years), so it never overflows.
constexpr int64_t kMaxTtlMs = int64_t{100} * 365 * 24 * 3600 * 1000;

bool isZero(const Fingerprint& fp) {
  return std::all_of(fp.begin(), fp.end(), [](uint8_t b) { return b == 0; });
}

class RedisDedupStore : public DedupStore {
 public:
  RedisDedupStore(std::shared_ptr<RedisShared> shared, EventLoop& loop)
      : shared_(std::move(shared)),
        loop_(loop),
        tokens_(std::random_device{}()),
        probe_timer_(loop_.createTimer([this] { probe(); })) {
    probe_timer_->arm(milliseconds(0));  // connect at once, not at the first delivery
  }

  ~RedisDedupStore() override {
    alive_.reset();
    resolver_.reset();
    pending_.clear();
    if (ctx_ != nullptr) {
      ctx_->data = nullptr;
      redisAsyncFree(ctx_);
      ctx_ = nullptr;
    }
  }

  void begin(const BeginRequest& request, BeginCallback done) override {
    const LeaseToken token = newToken();
    const int64_t lease_ms = std::clamp<int64_t>(request.lease.count(), 1, kMaxTtlMs);
    const Fingerprint fp = redisFingerprint(request.fingerprint);
    submit(shared_->scripts.begin,
           {keyOf(request.key), std::to_string(token), std::to_string(lease_ms),
            std::to_string(kLeaseTail.count()),
            isZero(fp) ? "" : toHex(fp.data(), kRedisFingerprintBytes)},
           [this, done = std::move(done), token, fp](StatusOr<const redisReply*> reply) {
             StatusOr<BeginResult> result = reply.ok() ? parseBeginReply(*reply, token, fp)
                                                       : StatusOr<BeginResult>(reply.status());
             deliver([done, result = std::move(result)]() mutable { done(std::move(result)); });
           });
  }

  void commit(const StoreKey& key, LeaseToken token, StoredResponse response, milliseconds ttl,
              CommitCallback done) override {
    RedisCommitted record;
    record.response = std::move(response);
    record.response.status = std::clamp(record.response.status, 0, 65535);
    const int64_t ttl_ms = std::clamp<int64_t>(ttl.count(), 1, kMaxTtlMs);
    submit(
        shared_->scripts.commit,
        {keyOf(key), std::to_string(token), encodeRedisCommitted(record), std::to_string(ttl_ms)},
        [this, done = std::move(done)](StatusOr<const redisReply*> reply) {
          StatusOr<CommitOutcome> result =
              reply.ok() ? parseCommitReply(*reply) : StatusOr<CommitOutcome>(reply.status());
          if (result.ok() && *result == CommitOutcome::kCommitted) ++shared_->commits;
          deliver([done, result = std::move(result)]() mutable { done(std::move(result)); });
        });
  }

  void release(const StoreKey& key, LeaseToken token, std::chrono::milliseconds ttl,
               ReleaseCallback done) override {
    (void)ttl;  // the released state in Redis is the Redis store's (issue 11)
    submit(shared_->scripts.release, {keyOf(key), std::to_string(token)},
           [this, done = std::move(done)](StatusOr<const redisReply*> reply) {
             Status result = reply.ok() ? parseReleaseReply(*reply) : reply.status();
             deliver([done, result = std::move(result)]() mutable { done(std::move(result)); });
           });
  }

 private:
  // Answers an operation once: with the reply (alive only during the call) or
  // a failure. Runs on the loop, never inside begin/commit/release itself.
  using Handler = std::function<void(StatusOr<const redisReply*>)>;

  struct Pending {
    const RedisScript* script = nullptr;
    std::vector<std::string> args;  // KEYS[1], then ARGV
    Handler handle;
    TimerPtr timer;
    bool reloaded = false;
  };

  // privdata of the connection's own commands; operations count from kFirstOp.
  static constexpr uintptr_t kAuthId = 1, kSelectId = 2, kLoadId = 3, kRoleId = 4, kPingId = 5,
                             kFirstOp = 16;

  // The raw 16-byte digest, not hex: 16 bytes less per key, which with
  // jemalloc's size classes saves a whole 16-byte step of every key's string.
  std::string keyOf(const StoreKey& key) const {
    return shared_->options.prefix + std::string(key.bytes());
  }

  LeaseToken newToken() {
    LeaseToken token = 0;
    while (token == 0) token = tokens_();
    return token;
  }

  void deliver(std::function<void()> fn) {
    loop_.post([alive = std::weak_ptr<char>(alive_), fn = std::move(fn)] {
      if (!alive.expired()) fn();
    });
  }

  void submit(const RedisScript& script, std::vector<std::string> args, Handler handle) {
    retired_timers_.clear();  // never inside a timer callback: callers run on posted functions
    if (shared_->closed.load()) {
      handle(Status::Unavailable("redis store closed"));
      return;
    }
    if (!ensureConnected()) {
      handle(Status::Unavailable(last_error_));
      return;
    }
    const uintptr_t id = next_id_++;
    Pending& p = pending_[id];
    p.script = &script;
    p.args = std::move(args);
    p.handle = std::move(handle);
    p.timer = loop_.createTimer([this, id] { onTimeout(id); });
    p.timer->arm(shared_->options.command_timeout);
    // While the Sentinels are asked there is no connection yet: connect()
    // sends what waits.
    if (ctx_ != nullptr && !send(id, p)) {
      detach(Status::Unavailable("redis: cannot queue a command"), true);
    }
  }

  bool send(uintptr_t id, const Pending& p) {
    std::vector<const char*> argv = {"EVALSHA", p.script->sha.c_str(), "1"};
    std::vector<size_t> lens = {7, p.script->sha.size(), 1};
    for (const std::string& a : p.args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(ctx_, &RedisDedupStore::onReplyStatic, reinterpret_cast<void*>(id),
                                 static_cast<int>(argv.size()), argv.data(),
                                 lens.data()) == REDIS_OK;
  }

  bool sendPlain(uintptr_t id, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(ctx_, &RedisDedupStore::onReplyStatic, reinterpret_cast<void*>(id),
                                 static_cast<int>(argv.size()), argv.data(),
                                 lens.data()) == REDIS_OK;
  }

  bool sentinelMode() const { return !shared_->sentinels.empty(); }

  std::string target() const { return target_.host + ":" + std::to_string(target_.port); }

  // True when a connection exists or is on its way (Sentinels being asked,
  // then connect()); false while the backoff holds us back.
  bool ensureConnected() {
    if (ctx_ != nullptr || resolving_) return true;
    if (SteadyClock::now() < next_attempt_) return false;
    if (!sentinelMode()) {
      target_ = shared_->server;
      return connect();
    }
    // Every (re)connect asks again: after a failover the Sentinels name the
    // promoted replica.
    if (!resolver_) {
      resolver_ = std::make_unique<SentinelResolver>(loop_, shared_->sentinels,
                                                     shared_->options.master_name,
                                                     shared_->options.connect_timeout);
    }
    resolving_ = true;
    resolver_->resolve([this](StatusOr<RedisAddress> master) {
      resolving_ = false;
      if (!master.ok()) {
        detach(master.status(), false);
        return;
      }
      target_ = *master;
      if (!connect()) return;  // connect() failed every waiting operation
      for (auto& [id, p] : pending_) {
        if (!send(id, p)) {
          detach(Status::Unavailable("redis: cannot queue a command"), true);
          return;
        }
      }
    });
    return true;
  }

  // Connects to target_ and queues the handshake (AUTH, SELECT, with Sentinel
  // ROLE, SCRIPT LOAD) ahead of any command. False (every pending operation
  // failed) when hiredis refuses at once.
  bool connect() {
    const RedisOptions& o = shared_->options;
    redisAsyncContext* ctx = redisAsyncConnect(target_.host.c_str(), target_.port);
    if (ctx == nullptr || ctx->err != 0) {
      const std::string why = "redis: cannot connect to " + target() + ": " +
                              (ctx != nullptr ? ctx->errstr : "out of memory");
      if (ctx != nullptr) redisAsyncFree(ctx);
      detach(Status::Unavailable(why), false);
      return false;
    }
    ctx_ = ctx;
    ctx_->data = this;
    ready_ = false;
    redisLibeventAttach(ctx_, loop_.base());
    redisAsyncSetConnectCallback(ctx_, &RedisDedupStore::onConnectStatic);
    redisAsyncSetDisconnectCallback(ctx_, &RedisDedupStore::onDisconnectStatic);
    bool ok = true;
    if (!o.password.empty()) {
      ok = o.username.empty() ? sendPlain(kAuthId, {"AUTH", o.password})
                              : sendPlain(kAuthId, {"AUTH", o.username, o.password});
    }
    ok = ok && sendPlain(kSelectId, {"SELECT", std::to_string(o.db)});
    // A Sentinel's answer may be stale (the old master, back as a replica).
    if (sentinelMode()) ok = ok && sendPlain(kRoleId, {"ROLE"});
    for (const RedisScript* s :
         {&shared_->scripts.begin, &shared_->scripts.commit, &shared_->scripts.release}) {
      ok = ok && sendPlain(kLoadId, {"SCRIPT", "LOAD", s->text});
    }
    if (!connect_timer_) {
      connect_timer_ = loop_.createTimer([this] {
        detach(Status::Unavailable("redis: connecting to " + target() + " timed out"), true);
      });
    }
    connect_timer_->arm(o.connect_timeout);
    if (!ok) {
      detach(Status::Unavailable("redis: cannot queue the handshake"), true);
      return false;
    }
    return true;
  }

  // The health check: reconnects a dropped connection (a failure marks the
  // store unhealthy), and drops a connection whose last PING went unanswered
  // for longer than a command may take.
  void probe() {
    if (shared_->closed.load()) return;
    retired_timers_.clear();  // the probe timer is never among them
    if (ctx_ == nullptr) {
      if (!resolving_) ensureConnected();
    } else if (ready_) {
      const milliseconds patience = std::max(kProbeInterval, shared_->options.command_timeout);
      if (ping_outstanding_ && SteadyClock::now() - ping_sent_ >= patience) {
        detach(Status::Unavailable("redis: " + target() + " did not answer a health-check PING"),
               true);
      } else if (!ping_outstanding_ && sendPlain(kPingId, {"PING"})) {
        ping_outstanding_ = true;
        ping_sent_ = SteadyClock::now();
      }
    }
    probe_timer_->arm(kProbeInterval);
  }

  void attemptFailed() {
    shared_->healthy = false;
    next_attempt_ = SteadyClock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kBackoffMax);
  }

  void handshakeDone() {
    ready_ = true;
    shared_->healthy = true;
    backoff_ = kBackoffMin;
    if (connect_timer_) connect_timer_->disarm();
  }

  // Drops the connection (freeing it unless hiredis is already doing so) and
  // answers every pending operation with `why`.
  void detach(const Status& why, bool free_ctx) {
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    if (connect_timer_) connect_timer_->disarm();
    last_error_ = why.message();
    if (ready_) {
      next_attempt_ = SteadyClock::time_point{};  // was working: retry at once
    } else {
      attemptFailed();
    }
    ready_ = false;
    ping_outstanding_ = false;
    if (ctx != nullptr) {
      ctx->data = nullptr;
      if (free_ctx) redisAsyncFree(ctx);
    }
    std::map<uintptr_t, Pending> pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
      retired_timers_.push_back(std::move(p.timer));
      p.handle(why);
    }
  }

  void onTimeout(uintptr_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    retired_timers_.push_back(std::move(p.timer));  // we are inside its callback
    p.handle(Status::Timeout("redis: no reply within " +
                             std::to_string(shared_->options.command_timeout.count()) + " ms"));
    // Still asking the Sentinels: they have their own timeout.
    if (ctx_ == nullptr) return;
    detach(Status::Unavailable("redis: connection dropped after a command timed out"), true);
  }

  void onHandshakeReply(uintptr_t id, const redisReply* reply) {
    static constexpr const char* kStep[] = {"", "AUTH", "SELECT", "SCRIPT LOAD", "ROLE", "PING"};
    if (reply->type == REDIS_REPLY_ERROR) {
      if (id == kLoadId) return;  // the EVALSHA will say NOSCRIPT and load again
      detach(Status::Unavailable("redis " + std::string(kStep[id]) + " on " + target() + ": " +
                                 redisReplyText(reply)),
             true);
      return;
    }
    if (id == kPingId) {
      ping_outstanding_ = false;
    } else if (id == kRoleId) {
      const bool master = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                          redisReplyText(reply->element[0]) == "master";
      if (!master) {
        detach(Status::Unavailable("redis: " + target() +
                                   " is not the master (a stale Sentinel answer); asking again"),
               true);
        return;
      }
      handshakeDone();
    } else if (id == kSelectId && !sentinelMode()) {
      handshakeDone();
    }
  }

  void onReply(uintptr_t id, const redisReply* reply) {
    if (reply == nullptr) {  // hiredis is freeing the connection
      detach(Status::Unavailable("redis: connection lost"), false);
      return;
    }
    if (id < kFirstOp) {
      onHandshakeReply(id, reply);
      return;
    }
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (reply->type == REDIS_REPLY_ERROR && !p.reloaded &&
        redisReplyText(reply).starts_with("NOSCRIPT")) {
      p.reloaded = true;
      if (!sendPlain(kLoadId, {"SCRIPT", "LOAD", p.script->text}) || !send(id, p)) {
        detach(Status::Unavailable("redis: cannot queue a command"), true);
      }
      return;
    }
    Pending done = std::move(p);
    pending_.erase(it);
    retired_timers_.push_back(std::move(done.timer));
    if (reply->type == REDIS_REPLY_ERROR && redisReplyText(reply).starts_with("READONLY")) {
      // The server became a replica under us (failover): fail, reconnect,
      // and with Sentinel ask where the master is now.
      const Status why = Status::Unavailable("redis: " + target() + " is read-only (" +
                                             redisReplyText(reply) + ")");
      done.handle(why);
      detach(why, true);
      return;
    }
    done.handle(reply);
  }

  static void onReplyStatic(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* self = static_cast<RedisDedupStore*>(ac->data);
    if (self == nullptr) return;
    self->onReply(reinterpret_cast<uintptr_t>(privdata), static_cast<const redisReply*>(reply));
  }

  static void onConnectStatic(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<RedisDedupStore*>(ac->data);
    if (self == nullptr || status == REDIS_OK) return;
    // hiredis frees the context after this returns.
    self->detach(
        Status::Unavailable("redis: cannot connect to " + self->target() + ": " + ac->errstr),
        false);
  }

  static void onDisconnectStatic(const redisAsyncContext* ac, int) {
    auto* self = static_cast<RedisDedupStore*>(ac->data);
    if (self == nullptr) return;
    self->detach(Status::Unavailable("redis: connection closed"), false);
  }

  std::shared_ptr<RedisShared> shared_;
  EventLoop& loop_;
  std::mt19937_64 tokens_;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  std::unique_ptr<SentinelResolver> resolver_;  // Sentinel mode, made on first use
  bool resolving_ = false;                      // the Sentinels are being asked
  RedisAddress target_;                         // the server of the current connection
  redisAsyncContext* ctx_ = nullptr;            // null while disconnected
  bool ready_ = false;                          // the handshake succeeded
  TimerPtr connect_timer_;
  TimerPtr probe_timer_;
  bool ping_outstanding_ = false;
  SteadyClock::time_point ping_sent_{};
  SteadyClock::time_point next_attempt_{};
  milliseconds backoff_ = kBackoffMin;
  std::string last_error_ = "redis: not connected";

  uintptr_t next_id_ = kFirstOp;
  std::map<uintptr_t, Pending> pending_;
  std::vector<TimerPtr> retired_timers_;  // fired or answered; freed outside their callbacks
};

}  // namespace

DedupStorePtr attachRedisWorkerStore(std::shared_ptr<RedisShared> shared, EventLoop& loop) {
  return std::make_unique<RedisDedupStore>(std::move(shared), loop);
}

}  // namespace dedup
