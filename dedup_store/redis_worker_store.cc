#include "dedup_store/redis_worker_store.h"

#include <hiredis/hiredis.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "dedup_store/redis_record.h"
#include "dedup_store/redis_replies.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Expired leases are kept this much longer, so the attempt count survives a
// dead holder (its redelivery is marked as a repeat).
constexpr milliseconds kLeaseTail = std::chrono::hours(24 * 7);
// Longest TTL we pass to PX (about 100 years), so it never overflows.
constexpr int64_t kMaxTtlMs = int64_t{100} * 365 * 24 * 3600 * 1000;

bool isZero(const Fingerprint& fp) {
  return std::all_of(fp.begin(), fp.end(), [](uint8_t b) { return b == 0; });
}

class SingleRunner : public RedisScriptRunner {
 public:
  SingleRunner(const RedisShared& shared, EventLoop& loop, std::function<void(bool)> on_health)
      : shared_(shared),
        connection_(loop, shared.options, shared.scripts,
                    RedisConnection::Settings{shared.server, shared.sentinels, false},
                    std::move(on_health)) {}

  void run(const RedisScript& script, std::vector<std::string> args, Handler handle) override {
    connection_.evalsha(script, std::move(args), shared_.options.command_timeout, false,
                        std::move(handle));
  }
  void probe() override { connection_.probe(); }

 private:
  const RedisShared& shared_;
  RedisConnection connection_;
};

class RedisDedupStore : public DedupStore {
 public:
  RedisDedupStore(std::shared_ptr<RedisShared> shared, EventLoop& loop,
                  const RedisRunnerFactory& make_runner)
      : shared_(std::move(shared)),
        loop_(loop),
        probe_timer_(loop_.createTimer([this] { probe(); })),
        renew_timer_(loop_.createTimer([this] { renew(); })) {
    runner_ = make_runner(loop_, [this](bool healthy) { setHealthy(healthy); });
    probe_timer_->arm(milliseconds(0));  // connect at once, not at the first delivery
  }

  ~RedisDedupStore() override {
    alive_.reset();
    runner_.reset();  // drops pending handlers without running them
    setHealthy(true);
  }

  void begin(const BeginRequest& request, BeginCallback done) override {
    const LeaseToken token = newToken();
    const int64_t lease_ms = std::clamp<int64_t>(request.lease.count(), 1, kMaxTtlMs);
    const int64_t first_ms = std::min<int64_t>(lease_ms, shared_->holderLease().count());
    const Fingerprint fp = redisFingerprint(request.fingerprint);
    std::string key = keyOf(request.key);
    const SteadyClock::time_point until = SteadyClock::now() + milliseconds(lease_ms);
    run(shared_->scripts.begin,
        {key, std::to_string(token), std::to_string(first_ms), std::to_string(kLeaseTail.count()),
         isZero(fp) ? "" : toHex(fp.data(), kRedisFingerprintBytes)},
        [this, done = std::move(done), token, fp, key, until,
         alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
          if (alive.expired()) return;
          StatusOr<BeginResult> result = reply.ok() ? parseBeginReply(*reply, token, fp)
                                                    : StatusOr<BeginResult>(reply.status());
          if (result.ok() && result->outcome == BeginResult::Outcome::kNew &&
              until > SteadyClock::now()) {
            held_[key] = Held{token, until};
            armRenewals();
          }
          answer(reply.ok(),
                 [done, result = std::move(result)]() mutable { done(std::move(result)); });
        });
  }

  void commit(const StoreKey& key, LeaseToken token, StoredResponse response, milliseconds ttl,
              CommitCallback done) override {
    RedisCommitted record;
    record.response = std::move(response);
    record.response.status = std::clamp(record.response.status, 0, 65535);
    const int64_t ttl_ms = std::clamp<int64_t>(ttl.count(), 1, kMaxTtlMs);
    std::string k = keyOf(key);
    forgetHeld(k, token);
    run(shared_->scripts.commit,
        {std::move(k), std::to_string(token), encodeRedisCommitted(record), std::to_string(ttl_ms)},
        [this, done = std::move(done),
         alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
          if (alive.expired()) return;
          StatusOr<CommitOutcome> result =
              reply.ok() ? parseCommitReply(*reply) : StatusOr<CommitOutcome>(reply.status());
          if (result.ok() && *result == CommitOutcome::kCommitted) ++shared_->commits;
          answer(reply.ok(),
                 [done, result = std::move(result)]() mutable { done(std::move(result)); });
        });
  }

  void release(const StoreKey& key, LeaseToken token, milliseconds ttl,
               ReleaseCallback done) override {
    const int64_t ttl_ms = std::clamp<int64_t>(ttl.count(), 1, kMaxTtlMs);
    std::string k = keyOf(key);
    forgetHeld(k, token);
    run(shared_->scripts.release, {std::move(k), std::to_string(token), std::to_string(ttl_ms)},
        [this, done = std::move(done),
         alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
          if (alive.expired()) return;
          Status result = reply.ok() ? parseReleaseReply(*reply) : reply.status();
          answer(reply.ok(),
                 [done, result = std::move(result)]() mutable { done(std::move(result)); });
        });
  }

 private:
  struct Held {
    LeaseToken token = 0;
    SteadyClock::time_point until;  // the route's lease: renewed no longer than this
  };

  // The raw 16-byte digest, not hex: 16 bytes less per key, which with
  // jemalloc's size classes saves a whole 16-byte step of every key's string.
  std::string keyOf(const StoreKey& key) const {
    return shared_->options.prefix + std::string(key.bytes());
  }

  // Fencing tokens: 64-bit outputs of a generator seeded with 256 bits from
  // the kernel (one getrandom per worker, not one per lease), so tokens of
  // different workers, processes and restarts do not repeat.
  static std::mt19937_64 seededTokens() {
    std::array<uint32_t, 8> words{};
    if (getrandom(words.data(), sizeof(words), 0) != static_cast<ssize_t>(sizeof(words))) {
      std::random_device device;
      for (uint32_t& w : words) w = device();
    }
    std::seed_seq seed(words.begin(), words.end());
    return std::mt19937_64(seed);
  }

  LeaseToken newToken() {
    LeaseToken token = 0;
    while (token == 0) token = tokens_();
    return token;
  }

  // A reply from Redis is answered at once (we are on the loop, in hiredis's
  // reply callback, never inside begin/commit/release); a failure may come
  // from inside the call or a timer's callback, so it is posted.
  void answer(bool from_reply, std::function<void()> fn) {
    if (from_reply) {
      fn();
      return;
    }
    deliver(std::move(fn));
  }

  void deliver(std::function<void()> fn) {
    loop_.post([alive = std::weak_ptr<char>(alive_), fn = std::move(fn)] {
      if (!alive.expired()) fn();
    });
  }

  void setHealthy(bool healthy) {
    if (healthy == healthy_) return;
    healthy_ = healthy;
    shared_->unhealthy_workers += healthy ? -1 : 1;
  }

  // Runs a script unless the backend is closed.
  void run(const RedisScript& script, std::vector<std::string> args,
           RedisScriptRunner::Handler handle) {
    if (shared_->closed.load()) {
      handle(Status::Unavailable("redis store closed"));
      return;
    }
    runner_->run(script, std::move(args), std::move(handle));
  }

  void probe() {
    if (shared_->closed.load()) return;
    runner_->probe();
    probe_timer_->arm(std::chrono::seconds(1));
  }

  void forgetHeld(const std::string& key, LeaseToken token) {
    auto it = held_.find(key);
    if (it != held_.end() && it->second.token == token) held_.erase(it);
  }

  void armRenewals() {
    if (!renew_timer_->armed()) renew_timer_->arm(kRenewInterval);
  }

  // Renews every lease this worker holds, pipelined on the connections.
  void renew() {
    const SteadyClock::time_point now = SteadyClock::now();
    const milliseconds holder = shared_->holderLease();
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second.until <= now) {
        it = held_.erase(it);  // the route's lease is over: let it run out
        continue;
      }
      const auto left = std::chrono::duration_cast<milliseconds>(it->second.until - now);
      const int64_t ms = std::max<int64_t>(1, std::min(left, holder).count());
      const std::string key = it->first;
      const LeaseToken token = it->second.token;
      ++it;
      run(shared_->scripts.renew,
          {key, std::to_string(token), std::to_string(ms), std::to_string(kLeaseTail.count())},
          [this, key, token,
           alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
            if (alive.expired()) return;
            // 0: taken over or gone; stop renewing. A failure: try
            // again next round.
            if (reply.ok() && (*reply)->type == REDIS_REPLY_INTEGER && (*reply)->integer == 0) {
              forgetHeld(key, token);
            }
          });
    }
    if (!held_.empty()) renew_timer_->arm(kRenewInterval);
  }

  std::shared_ptr<RedisShared> shared_;
  EventLoop& loop_;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
  std::unique_ptr<RedisScriptRunner> runner_;
  bool healthy_ = true;
  std::mt19937_64 tokens_ = seededTokens();
  std::map<std::string, Held> held_;  // leases this worker holds, by Redis key
  TimerPtr probe_timer_;
  TimerPtr renew_timer_;
};

}  // namespace

std::unique_ptr<RedisScriptRunner> makeSingleRedisRunner(const RedisShared& shared, EventLoop& loop,
                                                         std::function<void(bool)> on_health) {
  return std::make_unique<SingleRunner>(shared, loop, std::move(on_health));
}

DedupStorePtr attachRedisWorkerStore(std::shared_ptr<RedisShared> shared, EventLoop& loop,
                                     RedisRunnerFactory make_runner) {
  return std::make_unique<RedisDedupStore>(std::move(shared), loop, make_runner);
}

}  // namespace dedup
