#include "dedup_store/redis_cluster_runner.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "dedup_store/redis_cluster_map.h"
#include "dedup_store/redis_replies.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kRetryMin{20};
constexpr milliseconds kRetryMax{200};
// Refreshes of the slot map are at least this far apart.
constexpr milliseconds kRefreshGap{100};
// The map is refreshed this often even when nothing points at a change.
constexpr milliseconds kRefreshEvery{5000};

std::string nameOf(const RedisAddress& a) { return a.host + ":" + std::to_string(a.port); }

class ClusterRunner : public RedisScriptRunner {
 public:
  ClusterRunner(const RedisShared& shared, EventLoop& loop, std::function<void(bool)> on_health)
      : shared_(shared),
        loop_(loop),
        on_health_(std::move(on_health)),
        refresh_timer_(loop.createTimer([this] { refresh(); })) {}

  void run(const RedisScript& script, std::vector<std::string> args, Handler handle) override {
    retired_.clear();  // never inside one of our timers: the store calls from its own
    auto op = std::make_shared<Op>();
    op->script = &script;
    op->slot = clusterSlot(args[0]);
    op->args = std::move(args);
    op->handle = std::move(handle);
    op->deadline = SteadyClock::now() + shared_.options.command_timeout;
    route(op);
  }

  void probe() override {
    retired_.clear();
    for (auto& [name, connection] : connections_) connection->probe();
    if (!map_.complete() || !healthy_ || SteadyClock::now() - last_refresh_ >= kRefreshEvery) {
      refreshSoon();
    }
  }

 private:
  struct Op {
    const RedisScript* script = nullptr;
    std::vector<std::string> args;
    Handler handle;
    int slot = 0;
    int hops = 0;
    milliseconds backoff = kRetryMin;
    SteadyClock::time_point deadline;
    TimerPtr timer;             // while parked: waiting for the map, or for a retry
    bool awaiting_map = false;  // parked until the map knows the slot's master
  };
  using OpPtr = std::shared_ptr<Op>;

  milliseconds left(const Op& op) const {
    return std::chrono::duration_cast<milliseconds>(op.deadline - SteadyClock::now());
  }

  static void finish(const OpPtr& op, StatusOr<const redisReply*> result) {
    Handler handle = std::move(op->handle);
    op->handle = nullptr;
    if (handle) handle(std::move(result));
  }

  // Sends `op` to its slot's master, or parks it until the map knows one.
  void route(const OpPtr& op) {
    const RedisAddress* master = map_.masterOf(op->slot);
    if (master == nullptr) {
      refreshSoon();
      if (left(*op) <= milliseconds(0)) {
        finish(op, Status::Unavailable("redis cluster: no master known for slot " +
                                       std::to_string(op->slot)));
        return;
      }
      op->awaiting_map = true;
      park(op, left(*op), [this](const OpPtr& parked) {
        finish(parked,
               Status::Unavailable("redis cluster: no master known for slot " +
                                   std::to_string(parked->slot) + " (" + last_error_ + ")"));
      });
      return;
    }
    dispatch(op, *master, false);
  }

  void dispatch(const OpPtr& op, const RedisAddress& to, bool asking) {
    const milliseconds timeout = left(*op);
    if (timeout <= milliseconds(0)) {
      finish(op, Status::Timeout("redis cluster: no answer within the deadline"));
      return;
    }
    connectionTo(to).evalsha(
        *op->script, op->args, timeout, asking,
        [this, op, alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
          if (alive.expired()) return;
          onReply(op, std::move(reply));
        });
  }

  void onReply(const OpPtr& op, StatusOr<const redisReply*> reply) {
    if (!reply.ok()) {
      refreshSoon();  // the node may be gone: ask the cluster who serves now
      finish(op, std::move(reply));
      return;
    }
    const redisReply* r = *reply;
    if (r->type != REDIS_REPLY_ERROR) {
      finish(op, r);
      return;
    }
    const std::string error = redisReplyText(r);
    if (std::optional<RedisRedirect> redirect = parseRedirect(error)) {
      if (++op->hops > kMaxHops) {
        finish(op, Status::Unavailable("redis cluster: more than " + std::to_string(kMaxHops) +
                                       " redirections (last: " + error + ")"));
        return;
      }
      if (redirect->kind == RedisRedirect::Kind::kMoved) {
        map_.assign(redirect->slot, redirect->slot, redirect->address);
        refreshSoon();
      }
      dispatch(op, redirect->address, redirect->kind == RedisRedirect::Kind::kAsk);
      return;
    }
    if (error.starts_with("TRYAGAIN") || error.starts_with("CLUSTERDOWN")) {
      if (left(*op) <= op->backoff) {
        finish(op, Status::Unavailable("redis cluster: " + error));
        return;
      }
      if (error.starts_with("CLUSTERDOWN")) refreshSoon();
      op->awaiting_map = false;
      park(op, op->backoff, [this](const OpPtr& parked) { route(parked); });
      op->backoff = std::min(op->backoff * 2, kRetryMax);
      return;
    }
    finish(op, r);
  }

  // Holds `op` in waiting_ for `delay`, then takes it out and runs `fire`
  // (unless a refresh has routed it before).
  void park(const OpPtr& op, milliseconds delay, std::function<void(const OpPtr&)> fire) {
    waiting_.push_back(op);
    op->timer = loop_.createTimer([this, weak = std::weak_ptr<Op>(op), fire = std::move(fire)] {
      OpPtr parked = weak.lock();
      if (!parked) return;
      std::erase(waiting_, parked);
      retired_.push_back(std::move(parked->timer));  // we are inside its callback
      fire(parked);
    });
    op->timer->arm(std::max(delay, milliseconds(1)));
  }

  RedisConnection& connectionTo(const RedisAddress& address) {
    const std::string name = nameOf(address);
    auto it = connections_.find(name);
    if (it == connections_.end()) {
      auto connection = std::make_unique<RedisConnection>(
          loop_, shared_.options, shared_.scripts, RedisConnection::Settings{address, {}, true},
          [this](bool) { updateHealth(); });
      it = connections_.emplace(name, std::move(connection)).first;
    }
    return *it->second;
  }

  void refreshSoon() {
    if (refreshing_) {
      refresh_again_ = true;
      return;
    }
    if (refresh_timer_->armed()) return;
    const auto since = SteadyClock::now() - last_refresh_;
    refresh_timer_->arm(since >= kRefreshGap
                            ? milliseconds(0)
                            : std::chrono::duration_cast<milliseconds>(kRefreshGap - since));
  }

  // Asks the known masters, then the seeds, for the slot map.
  void refresh() {
    if (refreshing_) return;
    refreshing_ = true;
    refresh_again_ = false;
    last_refresh_ = SteadyClock::now();
    candidates_.clear();
    for (const RedisAddress& a : map_.masters()) candidates_.push_back(a);
    for (const RedisAddress& a : shared_.cluster_seeds) {
      if (std::find(candidates_.begin(), candidates_.end(), a) == candidates_.end()) {
        candidates_.push_back(a);
      }
    }
    next_candidate_ = 0;
    errors_.clear();
    askNext();
  }

  void askNext() {
    if (next_candidate_ >= candidates_.size()) {
      refreshDone("redis cluster: no node answered CLUSTER SHARDS" + errors_);
      return;
    }
    const RedisAddress node = candidates_[next_candidate_++];
    ask(node, true);
  }

  void ask(const RedisAddress& node, bool shards) {
    std::vector<std::string> command = {"CLUSTER", shards ? "SHARDS" : "SLOTS"};
    connectionTo(node).command(
        command, shared_.options.command_timeout,
        [this, node, shards,
         alive = std::weak_ptr<char>(alive_)](StatusOr<const redisReply*> reply) {
          if (alive.expired()) return;
          // Never inside connectionTo(): answers come later or from a failed
          // queueing, both after the command was made.
          loop_.post([this, node, shards, alive, failed = !reply.ok(),
                      why = reply.ok() ? std::string() : reply.status().message(),
                      parsed = reply.ok() ? parse(*reply, node, shards)
                                          : StatusOr<ClusterSlotMap>(reply.status())]() mutable {
            if (alive.expired()) return;
            if (!failed && !parsed.ok() && shards &&
                parsed.status().code() == Status::Code::kInvalidArgument) {
              ask(node, false);  // before Redis 7: CLUSTER SLOTS
              return;
            }
            if (!parsed.ok()) {
              errors_ += "; " + nameOf(node) + ": " + parsed.status().message();
              askNext();
              return;
            }
            map_ = std::move(*parsed);
            refreshDone("");
          });
        });
  }

  // InvalidArgument: the node does not know CLUSTER SHARDS.
  static StatusOr<ClusterSlotMap> parse(const redisReply* reply, const RedisAddress& node,
                                        bool shards) {
    if (reply->type == REDIS_REPLY_ERROR) {
      const std::string text = redisReplyText(reply);
      if (shards && text.find("nknown") != std::string::npos) {
        return Status::InvalidArgument(text);
      }
      return Status::Unavailable(text);
    }
    return shards ? parseClusterShards(reply, node.host) : parseClusterSlots(reply, node.host);
  }

  void refreshDone(const std::string& error) {
    refreshing_ = false;
    have_map_ = have_map_ || error.empty();
    if (!error.empty()) last_error_ = error;
    if (error.empty()) pruneConnections();
    std::vector<OpPtr> waiting = std::move(waiting_);
    waiting_.clear();
    for (const OpPtr& op : waiting) {
      if (!op->awaiting_map || map_.masterOf(op->slot) == nullptr) {
        waiting_.push_back(op);  // its timer still runs
        continue;
      }
      op->timer.reset();  // not inside its callback: refreshes run on their own
      route(op);
    }
    updateHealth();
    if (refresh_again_) refreshSoon();
  }

  // Connections to nodes that no longer serve slots (a failed master, a
  // seed that is a replica) go, once nothing waits on them.
  void pruneConnections() {
    const std::vector<RedisAddress>& masters = map_.masters();
    for (auto it = connections_.begin(); it != connections_.end();) {
      const bool master = std::any_of(masters.begin(), masters.end(), [&](const RedisAddress& a) {
        return nameOf(a) == it->first;
      });
      if (!master && it->second->idle()) {
        graveyard_.push_back(std::move(it->second));  // we may be inside its callback
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    loop_.post([alive = std::weak_ptr<char>(alive_), this] {
      if (!alive.expired()) graveyard_.clear();
    });
  }

  void updateHealth() {
    bool healthy = have_map_ && map_.complete();
    for (const RedisAddress& a : map_.masters()) {
      auto it = connections_.find(nameOf(a));
      if (it != connections_.end() && !it->second->healthy()) healthy = false;
    }
    if (healthy == healthy_) return;
    healthy_ = healthy;
    if (!healthy) refreshSoon();
    if (on_health_) on_health_(healthy);
  }

  const RedisShared& shared_;
  EventLoop& loop_;
  std::function<void(bool)> on_health_;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  ClusterSlotMap map_;
  bool have_map_ = false;
  bool healthy_ = true;
  std::string last_error_ = "redis cluster: slot map not known yet";
  std::map<std::string, std::unique_ptr<RedisConnection>> connections_;  // by host:port
  std::vector<std::unique_ptr<RedisConnection>> graveyard_;              // freed on the next turn
  std::vector<OpPtr> waiting_;     // parked: for a master of their slot, or a retry
  std::vector<TimerPtr> retired_;  // fired; freed outside their callbacks

  TimerPtr refresh_timer_;
  bool refreshing_ = false;
  bool refresh_again_ = false;
  SteadyClock::time_point last_refresh_{};
  std::vector<RedisAddress> candidates_;
  size_t next_candidate_ = 0;
  std::string errors_;
};

}  // namespace

std::unique_ptr<RedisScriptRunner> makeClusterRedisRunner(const RedisShared& shared,
                                                          EventLoop& loop,
                                                          std::function<void(bool)> on_health) {
  return std::make_unique<ClusterRunner>(shared, loop, std::move(on_health));
}

}  // namespace dedup
