#include "dedup_store/redis_connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

#include "dedup_store/redis_libevent.h"
#include "dedup_store/redis_replies.h"
#include "dedup_store/redis_sentinel.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{2000};
constexpr milliseconds kProbeInterval{1000};

// privdata of the handshake's own commands; commands count from kFirstOp.
constexpr uintptr_t kAuthId = 1, kSelectId = 2, kInfoId = 3, kRoleId = 4, kLoadId = 5,
                    kLastLoadId = 6, kPingId = 7, kAskingId = 8, kReloadId = 9, kFirstOp = 16;
constexpr const char* kStep[] = {"",     "AUTH",        "SELECT", "INFO",  "ROLE",
                                 "LOAD", "SCRIPT LOAD", "PING",   "ASKING"};

// "redis_version:6.2.1" in INFO's text → 6; 0 when absent.
int majorVersion(std::string_view info) {
  constexpr std::string_view kField = "redis_version:";
  const size_t at = info.find(kField);
  if (at == std::string_view::npos) return 0;
  const char* begin = info.data() + at + kField.size();
  int major = 0;
  std::from_chars(begin, info.data() + info.size(), major);
  return major;
}

}  // namespace

RedisConnection::RedisConnection(EventLoop& loop, const RedisOptions& options,
                                 const RedisScripts& scripts, Settings settings,
                                 HealthCallback on_health)
    : loop_(loop),
      options_(options),
      scripts_(scripts),
      settings_(std::move(settings)),
      on_health_(std::move(on_health)),
      target_(settings_.server),
      backoff_(kBackoffMin),
      next_id_(kFirstOp) {}

RedisConnection::~RedisConnection() {
  resolver_.reset();
  pending_.clear();
  if (ctx_ != nullptr) {
    ctx_->data = nullptr;
    redisAsyncFree(ctx_);
    ctx_ = nullptr;
  }
}

std::string RedisConnection::where() const {
  return target_.host + ":" + std::to_string(target_.port);
}

void RedisConnection::evalsha(const RedisScript& script, std::vector<std::string> args,
                              milliseconds timeout, bool asking, Handler handle) {
  Pending p;
  p.script = &script;
  p.args = std::move(args);
  p.asking = asking;
  p.handle = std::move(handle);
  submit(next_id_++, std::move(p), timeout);
}

void RedisConnection::command(std::vector<std::string> args, milliseconds timeout, Handler handle) {
  Pending p;
  p.args = std::move(args);
  p.handle = std::move(handle);
  submit(next_id_++, std::move(p), timeout);
}

void RedisConnection::submit(uintptr_t id, Pending p, milliseconds timeout) {
  retired_timers_.clear();  // never inside a timer callback: callers run on posted functions
  if (!ensureConnected()) {
    p.handle(Status::Unavailable(last_error_));
    return;
  }
  Pending& stored = pending_[id] = std::move(p);
  stored.timer = loop_.createTimer([this, id] { onTimeout(id); });
  stored.timer->arm(std::max(timeout, milliseconds(1)));
  // Before the handshake has succeeded, handshakeDone() sends what waits.
  if (ready_ && !send(id, stored)) {
    detach(Status::Unavailable("redis: cannot queue a command to " + where()), true);
  }
}

bool RedisConnection::send(uintptr_t id, Pending& p) {
  p.sent = true;
  if (p.script == nullptr) return sendPlain(id, p.args);
  if (p.asking && !sendPlain(kAskingId, {"ASKING"})) return false;
  std::vector<const char*> argv = {"EVALSHA", p.script->sha.c_str(), "1"};
  std::vector<size_t> lens = {7, p.script->sha.size(), 1};
  for (const std::string& a : p.args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAsyncCommandArgv(ctx_, &RedisConnection::onReplyStatic, reinterpret_cast<void*>(id),
                               static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK;
}

bool RedisConnection::sendPlain(uintptr_t id, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAsyncCommandArgv(ctx_, &RedisConnection::onReplyStatic, reinterpret_cast<void*>(id),
                               static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK;
}

// True when a connection exists or is on its way (Sentinels being asked,
// then connect()); false while the backoff holds us back.
bool RedisConnection::ensureConnected() {
  if (ctx_ != nullptr || resolving_) return true;
  if (SteadyClock::now() < next_attempt_) return false;
  if (!sentinelMode()) {
    target_ = settings_.server;
    return connect();
  }
  // Every (re)connect asks again: after a failover the Sentinels name the
  // promoted replica.
  if (!resolver_) {
    resolver_ = std::make_unique<SentinelResolver>(loop_, settings_.sentinels, options_.master_name,
                                                   options_.connect_timeout);
  }
  resolving_ = true;
  resolver_->resolve([this](StatusOr<RedisAddress> master) {
    resolving_ = false;
    if (!master.ok()) {
      detach(master.status(), false);
      return;
    }
    target_ = *master;
    connect();  // on failure it failed every waiting command
  });
  return true;
}

// Connects to target_ and queues the handshake. False (every pending command
// failed) when hiredis refuses at once.
bool RedisConnection::connect() {
  redisAsyncContext* ctx = redisAsyncConnect(target_.host.c_str(), target_.port);
  if (ctx == nullptr || ctx->err != 0) {
    const std::string why = "redis: cannot connect to " + where() + ": " +
                            (ctx != nullptr ? ctx->errstr : "out of memory");
    if (ctx != nullptr) redisAsyncFree(ctx);
    detach(Status::Unavailable(why), false);
    return false;
  }
  ctx_ = ctx;
  ctx_->data = this;
  ready_ = false;
  attachRedisToLibevent(ctx_, loop_.base());
  redisAsyncSetConnectCallback(ctx_, &RedisConnection::onConnectStatic);
  redisAsyncSetDisconnectCallback(ctx_, &RedisConnection::onDisconnectStatic);
  bool ok = true;
  if (!options_.password.empty()) {
    ok = options_.username.empty()
             ? sendPlain(kAuthId, {"AUTH", options_.password})
             : sendPlain(kAuthId, {"AUTH", options_.username, options_.password});
  }
  if (!settings_.cluster) ok = ok && sendPlain(kSelectId, {"SELECT", std::to_string(options_.db)});
  ok = ok && sendPlain(kInfoId, {"INFO", "server"});
  // A Sentinel's answer may be stale (the old master, back as a replica).
  if (sentinelMode()) ok = ok && sendPlain(kRoleId, {"ROLE"});
  const RedisScript* all[] = {&scripts_.begin, &scripts_.commit, &scripts_.release,
                              &scripts_.renew};
  for (const RedisScript* s : all) {
    ok = ok && sendPlain(s == all[std::size(all) - 1] ? kLastLoadId : kLoadId,
                         {"SCRIPT", "LOAD", s->text});
  }
  if (!connect_timer_) {
    connect_timer_ = loop_.createTimer([this] {
      detach(Status::Unavailable("redis: connecting to " + where() + " timed out"), true);
    });
  }
  connect_timer_->arm(options_.connect_timeout);
  if (!ok) {
    detach(Status::Unavailable("redis: cannot queue the handshake"), true);
    return false;
  }
  return true;
}

void RedisConnection::probe() {
  retired_timers_.clear();
  if (ctx_ == nullptr) {
    if (!resolving_) ensureConnected();
  } else if (ready_) {
    const milliseconds patience = std::max(kProbeInterval, options_.command_timeout);
    if (ping_outstanding_ && SteadyClock::now() - ping_sent_ >= patience) {
      detach(Status::Unavailable("redis: " + where() + " did not answer a health-check PING"),
             true);
    } else if (!ping_outstanding_ && sendPlain(kPingId, {"PING"})) {
      ping_outstanding_ = true;
      ping_sent_ = SteadyClock::now();
    }
  }
}

void RedisConnection::fail(const Status& why) {
  if (ctx_ != nullptr || !pending_.empty()) detach(why, true);
}

void RedisConnection::setHealthy(bool healthy) {
  if (healthy_ == healthy) return;
  healthy_ = healthy;
  if (on_health_) on_health_(healthy);
}

void RedisConnection::attemptFailed() {
  next_attempt_ = SteadyClock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
  setHealthy(false);
}

void RedisConnection::handshakeDone() {
  ready_ = true;
  backoff_ = kBackoffMin;
  if (connect_timer_) connect_timer_->disarm();
  for (auto& [id, p] : pending_) {
    if (!send(id, p)) {
      detach(Status::Unavailable("redis: cannot queue a command to " + where()), true);
      return;
    }
  }
  setHealthy(true);
}

// Drops the connection (freeing it unless hiredis is already doing so) and
// answers every pending command with `why`.
void RedisConnection::detach(const Status& why, bool free_ctx) {
  redisAsyncContext* ctx = ctx_;
  ctx_ = nullptr;
  if (connect_timer_) connect_timer_->disarm();
  last_error_ = why.message();
  const bool was_ready = ready_;
  ready_ = false;
  ping_outstanding_ = false;
  if (ctx != nullptr) {
    ctx->data = nullptr;
    if (free_ctx) redisAsyncFree(ctx);
  }
  std::map<uintptr_t, Pending> pending = std::move(pending_);
  pending_.clear();
  if (was_ready) {
    next_attempt_ = SteadyClock::time_point{};  // was working: retry at once
  } else {
    attemptFailed();  // may run the health callback; `this` stays alive through it
  }
  for (auto& [id, p] : pending) {
    retired_timers_.push_back(std::move(p.timer));
    p.handle(why);
  }
}

void RedisConnection::onTimeout(uintptr_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  retired_timers_.push_back(std::move(p.timer));  // we are inside its callback
  p.handle(Status::Timeout("redis: no reply from " + where() + " within the deadline"));
  // Still asking the Sentinels: they have their own timeout.
  if (ctx_ == nullptr) return;
  // The reply may still come, and later replies would be matched to the
  // wrong command otherwise: start afresh.
  detach(Status::Unavailable("redis: connection dropped after a command timed out"), true);
}

void RedisConnection::onHandshakeReply(uintptr_t id, const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    if (id == kLoadId || id == kReloadId) return;  // the EVALSHA says NOSCRIPT and loads again
    if (id == kLastLoadId) {
      handshakeDone();
      return;
    }
    // ASKING failing is answered through the command behind it.
    if (id == kAskingId) return;
    detach(Status::Unavailable("redis " + std::string(kStep[id]) + " on " + where() + ": " +
                               redisReplyText(reply)),
           true);
    return;
  }
  switch (id) {
    case kPingId:
      ping_outstanding_ = false;
      break;
    case kInfoId: {
      const int major = majorVersion(redisReplyText(reply));
      if (major < 5) {
        detach(Status::Unavailable("redis: " + where() +
                                   " is older than Redis 5, which the store's scripts need"),
               true);
      }
      break;
    }
    case kRoleId: {
      const bool master = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                          redisReplyText(reply->element[0]) == "master";
      if (!master) {
        detach(Status::Unavailable("redis: " + where() +
                                   " is not the master (a stale Sentinel answer); asking again"),
               true);
      }
      break;
    }
    case kLastLoadId:
      handshakeDone();
      break;
    default:
      break;
  }
}

void RedisConnection::onReply(uintptr_t id, const redisReply* reply) {
  if (reply == nullptr) {  // hiredis is freeing the connection
    detach(Status::Unavailable("redis: connection to " + where() + " lost"), false);
    return;
  }
  if (id < kFirstOp) {
    onHandshakeReply(id, reply);
    return;
  }
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (reply->type == REDIS_REPLY_ERROR && p.script != nullptr && !p.reloaded &&
      redisReplyText(reply).starts_with("NOSCRIPT")) {
    p.reloaded = true;
    if (!sendPlain(kReloadId, {"SCRIPT", "LOAD", p.script->text}) || !send(id, p)) {
      detach(Status::Unavailable("redis: cannot queue a command to " + where()), true);
    }
    return;
  }
  Pending done = std::move(p);
  pending_.erase(it);
  retired_timers_.push_back(std::move(done.timer));
  if (reply->type == REDIS_REPLY_ERROR && redisReplyText(reply).starts_with("READONLY")) {
    // The server became a replica under us (failover): fail, reconnect, and
    // with Sentinel ask where the master is now.
    const Status why =
        Status::Unavailable("redis: " + where() + " is read-only (" + redisReplyText(reply) + ")");
    done.handle(why);
    if (ctx_ != nullptr) detach(why, true);
    return;
  }
  done.handle(reply);
}

void RedisConnection::onReplyStatic(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  self->onReply(reinterpret_cast<uintptr_t>(privdata), static_cast<const redisReply*>(reply));
}

void RedisConnection::onConnectStatic(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr || status == REDIS_OK) return;
  // hiredis frees the context after this returns.
  self->detach(Status::Unavailable("redis: cannot connect to " + self->where() + ": " + ac->errstr),
               false);
}

void RedisConnection::onDisconnectStatic(const redisAsyncContext* ac, int) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  self->detach(Status::Unavailable("redis: connection to " + self->where() + " closed"), false);
}

}  // namespace dedup
