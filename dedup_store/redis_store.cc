#include "dedup_store/redis_store.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "common/event_loop.h"
#include "dedup_store/redis_record.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Leases are kept this much longer than the lease itself, so the attempt
// count survives the lease's expiry (a redelivery is marked as a repeat).
constexpr milliseconds kLeaseTail = std::chrono::hours(24 * 7);
constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{2000};
// Longest TTL we pass to PX (about 100 years), so it never overflows.
constexpr int64_t kMaxTtlMs = int64_t{100} * 365 * 24 * 3600 * 1000;

// KEYS[1] key; ARGV[1] token, ARGV[2] lease ms, ARGV[3] lease tail ms,
// ARGV[4] fingerprint hex (empty: none).
// → {0, attempt} new lease | {1, value} committed | {2, ms left} in flight.
// A lease is "L<attempt>:<token>:<deadline ms>:<fingerprint hex>".
constexpr std::string_view kBeginScript = R"lua(
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local attempt = 1
if v then
  if string.sub(v, 1, 1) ~= 'L' then return {1, v} end
  local a, dl = string.match(v, '^L(%d+):%d+:(%d+):')
  if a then
    local left = tonumber(dl) - now
    if left > 0 then return {2, left} end
    attempt = tonumber(a) + 1
  end
end
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1],
           'L' .. attempt .. ':' .. ARGV[1] .. ':' .. string.format('%.0f', now + lease) .. ':' .. ARGV[4],
           'PX', string.format('%.0f', lease + tonumber(ARGV[3])))
return {0, attempt}
)lua";

// KEYS[1] key; ARGV[1] token, ARGV[2] committed value (redis_record.h, without
// fingerprint), ARGV[3] ttl ms. The lease's fingerprint is spliced into the
// record here, so any worker can commit. → 1 committed | 0 lease lost.
constexpr std::string_view kCommitScript = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local tok, fp = string.match(v, '^L%d+:(%d+):%d+:(%x*)$')
if tok ~= ARGV[1] then return 0 end
local rec = ARGV[2]
if fp ~= '' then
  local bin = string.gsub(fp, '..', function(h) return string.char(tonumber(h, 16)) end)
  if string.sub(rec, 1, 1) == 'C' then
    rec = string.sub(rec, 1, 3) .. '\1' .. bin .. string.sub(rec, 5)
  else
    local s = tonumber(rec)
    rec = 'C' .. string.char(s % 256, math.floor(s / 256)) .. '\1' .. bin .. '\0\0'
  end
end
redis.call('SET', KEYS[1], rec, 'PX', ARGV[3])
return 1
)lua";

// KEYS[1] key; ARGV[1] token. → 1 released | 0 not held.
constexpr std::string_view kReleaseScript = R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^L%d+:(%d+):') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

struct Script {
  std::string text;
  std::string sha;  // SHA-1 hex, what EVALSHA names
};

Script makeScript(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  return Script{std::string(text), toHex(digest, size)};
}

// What every worker's store shares with the backend.
struct Shared {
  RedisOptions options;
  std::string connect_host;  // resolved at open, so workers do no DNS
  Script begin = makeScript(kBeginScript);
  Script commit = makeScript(kCommitScript);
  Script release = makeScript(kReleaseScript);
  std::atomic<bool> healthy{true};
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> commits{0};
};

bool isZero(const Fingerprint& fp) {
  return std::all_of(fp.begin(), fp.end(), [](uint8_t b) { return b == 0; });
}

std::string replyText(const redisReply* reply) {
  return std::string(reply->str != nullptr ? reply->str : "", reply->len);
}

class RedisDedupStore : public DedupStore {
 public:
  RedisDedupStore(std::shared_ptr<Shared> shared, EventLoop& loop)
      : shared_(std::move(shared)), loop_(loop), tokens_(std::random_device{}()) {}

  ~RedisDedupStore() override {
    alive_.reset();
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
    const Fingerprint& fp = request.fingerprint;
    submit(shared_->begin,
           {keyOf(request.key), std::to_string(token), std::to_string(lease_ms),
            std::to_string(kLeaseTail.count()), isZero(fp) ? "" : toHex(fp.data(), fp.size())},
           [this, done = std::move(done), token,
            fp = request.fingerprint](StatusOr<const redisReply*> reply) {
             StatusOr<BeginResult> result =
                 reply.ok() ? parseBegin(*reply, token, fp) : StatusOr<BeginResult>(reply.status());
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
        shared_->commit,
        {keyOf(key), std::to_string(token), encodeRedisCommitted(record), std::to_string(ttl_ms)},
        [this, done = std::move(done)](StatusOr<const redisReply*> reply) {
          StatusOr<CommitOutcome> result = parseCommit(reply);
          if (result.ok() && *result == CommitOutcome::kCommitted) ++shared_->commits;
          deliver([done, result = std::move(result)]() mutable { done(std::move(result)); });
        });
  }

  void release(const StoreKey& key, LeaseToken token, ReleaseCallback done) override {
    submit(shared_->release, {keyOf(key), std::to_string(token)},
           [this, done = std::move(done)](StatusOr<const redisReply*> reply) {
             Status result = reply.ok() ? checkInteger(*reply) : reply.status();
             deliver([done, result = std::move(result)]() mutable { done(std::move(result)); });
           });
  }

 private:
  // Answers an operation once: with the reply (alive only during the call) or
  // a failure. Runs on the loop, never inside begin/commit/release itself.
  using Handler = std::function<void(StatusOr<const redisReply*>)>;

  struct Pending {
    const Script* script = nullptr;
    std::vector<std::string> args;  // KEYS[1], then ARGV
    Handler handle;
    TimerPtr timer;
    bool reloaded = false;
  };

  // privdata of the connection's own commands; operations count from kFirstOp.
  static constexpr uintptr_t kAuthId = 1, kSelectId = 2, kLoadId = 3, kFirstOp = 16;

  std::string keyOf(const StoreKey& key) const { return shared_->options.prefix + key.hex(); }

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

  StatusOr<BeginResult> parseBegin(const redisReply* reply, LeaseToken token,
                                   const Fingerprint& fp) {
    if (reply->type == REDIS_REPLY_ERROR) {
      return Status::Unavailable("redis begin: " + replyText(reply));
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
      return Status::Corruption("redis begin: unexpected reply");
    }
    const redisReply* arg = reply->element[1];
    BeginResult result;
    switch (reply->element[0]->integer) {
      case 0:
        if (arg->type != REDIS_REPLY_INTEGER) break;
        result.outcome = BeginResult::Outcome::kNew;
        result.token = token;
        result.attempt = static_cast<uint32_t>(arg->integer);
        return result;
      case 1: {
        if (arg->type != REDIS_REPLY_STRING) break;
        StatusOr<RedisCommitted> record = decodeRedisCommitted({arg->str, arg->len});
        if (!record.ok()) return record.status();
        if (!isZero(fp) && !isZero(record->fingerprint) && fp != record->fingerprint) {
          result.outcome = BeginResult::Outcome::kMismatch;
        } else {
          result.outcome = BeginResult::Outcome::kCommitted;
          result.response = std::move(record->response);
        }
        return result;
      }
      case 2:
        if (arg->type != REDIS_REPLY_INTEGER) break;
        result.outcome = BeginResult::Outcome::kInFlight;
        result.retry_after = milliseconds(std::max<long long>(arg->integer, 1));
        return result;
      default:
        break;
    }
    return Status::Corruption("redis begin: unexpected reply");
  }

  static StatusOr<CommitOutcome> parseCommit(const StatusOr<const redisReply*>& reply) {
    if (!reply.ok()) return reply.status();
    Status s = checkInteger(*reply);
    if (!s.ok()) return s;
    return (*reply)->integer == 1 ? CommitOutcome::kCommitted : CommitOutcome::kLeaseLost;
  }

  static Status checkInteger(const redisReply* reply) {
    if (reply->type == REDIS_REPLY_ERROR) return Status::Unavailable("redis: " + replyText(reply));
    if (reply->type != REDIS_REPLY_INTEGER) return Status::Corruption("redis: unexpected reply");
    return Status::OK();
  }

  void submit(const Script& script, std::vector<std::string> args, Handler handle) {
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
    if (!send(id, p)) detach(Status::Unavailable("redis: cannot queue a command"), true);
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

  // Starts a connection if there is none and the backoff allows; the
  // handshake (AUTH, SELECT, SCRIPT LOAD) is queued ahead of any command.
  bool ensureConnected() {
    if (ctx_ != nullptr) return true;
    if (SteadyClock::now() < next_attempt_) return false;
    const RedisOptions& o = shared_->options;
    redisAsyncContext* ctx = redisAsyncConnect(shared_->connect_host.c_str(), o.port);
    if (ctx == nullptr || ctx->err != 0) {
      last_error_ = "redis: cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " +
                    (ctx != nullptr ? ctx->errstr : "out of memory");
      if (ctx != nullptr) redisAsyncFree(ctx);
      attemptFailed();
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
    for (const Script* s : {&shared_->begin, &shared_->commit, &shared_->release}) {
      ok = ok && sendPlain(kLoadId, {"SCRIPT", "LOAD", s->text});
    }
    if (!connect_timer_) {
      connect_timer_ = loop_.createTimer([this] {
        detach(Status::Unavailable("redis: connecting to " + shared_->options.host + ":" +
                                   std::to_string(shared_->options.port) + " timed out"),
               true);
      });
    }
    connect_timer_->arm(o.connect_timeout);
    if (!ok) {
      last_error_ = "redis: cannot queue the handshake";
      detach(Status::Unavailable(last_error_), true);
      return false;
    }
    return true;
  }

  void attemptFailed() {
    shared_->healthy = false;
    next_attempt_ = SteadyClock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kBackoffMax);
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
    detach(Status::Unavailable("redis: connection dropped after a command timed out"), true);
  }

  void onReply(uintptr_t id, const redisReply* reply) {
    if (reply == nullptr) {  // hiredis is freeing the connection
      detach(Status::Unavailable("redis: connection lost"), false);
      return;
    }
    if (id == kAuthId || id == kSelectId) {
      if (reply->type == REDIS_REPLY_ERROR) {
        detach(Status::Unavailable(std::string(id == kAuthId ? "redis AUTH: " : "redis SELECT: ") +
                                   replyText(reply)),
               true);
      } else if (id == kSelectId) {
        ready_ = true;
        shared_->healthy = true;
        backoff_ = kBackoffMin;
        if (connect_timer_) connect_timer_->disarm();
      }
      return;
    }
    if (id == kLoadId) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (reply->type == REDIS_REPLY_ERROR && !p.reloaded &&
        replyText(reply).starts_with("NOSCRIPT")) {
      p.reloaded = true;
      if (!sendPlain(kLoadId, {"SCRIPT", "LOAD", p.script->text}) || !send(id, p)) {
        detach(Status::Unavailable("redis: cannot queue a command"), true);
      }
      return;
    }
    Pending done = std::move(p);
    pending_.erase(it);
    retired_timers_.push_back(std::move(done.timer));
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
        Status::Unavailable("redis: cannot connect to " + self->shared_->options.host + ":" +
                            std::to_string(self->shared_->options.port) + ": " + ac->errstr),
        false);
  }

  static void onDisconnectStatic(const redisAsyncContext* ac, int) {
    auto* self = static_cast<RedisDedupStore*>(ac->data);
    if (self == nullptr) return;
    self->detach(Status::Unavailable("redis: connection closed"), false);
  }

  std::shared_ptr<Shared> shared_;
  EventLoop& loop_;
  std::mt19937_64 tokens_;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  redisAsyncContext* ctx_ = nullptr;  // null while disconnected
  bool ready_ = false;                // the handshake succeeded
  TimerPtr connect_timer_;
  SteadyClock::time_point next_attempt_{};
  milliseconds backoff_ = kBackoffMin;
  std::string last_error_ = "redis: not connected";

  uintptr_t next_id_ = kFirstOp;
  std::map<uintptr_t, Pending> pending_;
  std::vector<TimerPtr> retired_timers_;  // fired or answered; freed outside their callbacks
};

class RedisBackend : public StoreBackend {
 public:
  explicit RedisBackend(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::string_view name() const override { return "redis"; }
  DedupStorePtr attach(EventLoop& loop) override {
    return std::make_unique<RedisDedupStore>(shared_, loop);
  }
  bool healthy() const override { return shared_->healthy.load() && !shared_->closed.load(); }
  StoreStats stats() const override {
    StoreStats s;
    s.commits = shared_->commits.load();
    s.syncs = 0;
    s.committed_keys_estimate = -1;
    return s;
  }
  Status close() override {
    shared_->closed = true;
    return Status::OK();
  }

 private:
  std::shared_ptr<Shared> shared_;
};

std::string resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return host;
  char text[NI_MAXHOST];
  std::string ip = host;
  if (getnameinfo(found->ai_addr, found->ai_addrlen, text, sizeof(text), nullptr, 0,
                  NI_NUMERICHOST) == 0) {
    ip = text;
  }
  freeaddrinfo(found);
  return ip;
}

bool parseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

StatusOr<RedisOptions> parseRedisUri(std::string_view uri) {
  const std::string quoted = "store URI \"" + std::string(uri) + "\": ";
  if (uri.starts_with("rediss://")) {
    return Status::InvalidArgument(quoted +
                                   "rediss:// (TLS) is not supported: Debian's hiredis "
                                   "0.14 has no TLS");
  }
  constexpr std::string_view kScheme = "redis://";
  if (!uri.starts_with(kScheme)) return Status::InvalidArgument(quoted + "want redis://");
  std::string_view rest = uri.substr(kScheme.size());
  RedisOptions options;
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.size() < rest.size()) {
    const std::string_view db = rest.substr(authority.size() + 1);
    if (!db.empty() && (!parseInt(db, options.db) || options.db < 0)) {
      return Status::InvalidArgument(quoted + "the database must be a number (/DB)");
    }
  }
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(quoted + "credentials must be USER:PASS@ or :PASS@");
    }
    options.username = std::string(userinfo.substr(0, colon));
    options.password = std::string(userinfo.substr(colon + 1));
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument(quoted + "unclosed [");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument(quoted + "want [HOST]:PORT");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument(quoted + "no host");
  options.host = std::string(host);
  if (authority.ends_with(':') || (!port.empty() && (!parseInt(port, options.port) ||
                                                     options.port < 1 || options.port > 65535))) {
    return Status::InvalidArgument(quoted + "the port must be a number in 1..65535");
  }
  return options;
}

StatusOr<StoreBackendPtr> openRedisStore(const RedisOptions& options) {
  if (options.host.empty()) return Status::InvalidArgument("redis store: no host");
  if (options.port < 1 || options.port > 65535) {
    return Status::InvalidArgument("redis store: bad port " + std::to_string(options.port));
  }
  if (options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0) {
    return Status::InvalidArgument("redis store: timeouts must be positive");
  }
  auto shared = std::make_shared<Shared>();
  shared->options = options;
  shared->connect_host = resolve(options.host);
  return StoreBackendPtr(std::make_unique<RedisBackend>(std::move(shared)));
}

}  // namespace dedup
