#include "dedup_store/redis_store.h"

#include <netdb.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "dedup_store/redis_cluster_runner.h"
#include "dedup_store/redis_worker_store.h"

namespace dedup {
namespace {

class RedisBackend : public StoreBackend {
 public:
  explicit RedisBackend(std::shared_ptr<RedisShared> shared) : shared_(std::move(shared)) {}
  std::string_view name() const override {
    return shared_->cluster_seeds.empty() ? "redis" : "redis-cluster";
  }
  DedupStorePtr attach(EventLoop& loop) override {
    const bool cluster = !shared_->cluster_seeds.empty();
    return attachRedisWorkerStore(
        shared_, loop, [shared = shared_.get(), cluster](EventLoop& l, auto on) {
          return cluster ? makeClusterRedisRunner(*shared, l, std::move(on))
                         : makeSingleRedisRunner(*shared, l, std::move(on));
        });
  }
  bool healthy() const override {
    return shared_->unhealthy_workers.load() == 0 && !shared_->closed.load();
  }
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
  std::shared_ptr<RedisShared> shared_;
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

Status checkAddress(const std::string& host, int port, const std::string& what) {
  if (host.empty()) return Status::InvalidArgument(what + ": no host");
  if (port < 1 || port > 65535) {
    return Status::InvalidArgument(what + ": bad port " + std::to_string(port));
  }
  return Status::OK();
}

}  // namespace

StatusOr<StoreBackendPtr> openRedisStore(const RedisOptions& options) {
  if (options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0) {
    return Status::InvalidArgument("redis store: timeouts must be positive");
  }
  auto shared = std::make_shared<RedisShared>();
  shared->options = options;
  if (!options.cluster_seeds.empty()) {
    if (options.db != 0) return Status::InvalidArgument("redis cluster: database 0 only");
    for (const RedisAddress& seed : options.cluster_seeds) {
      if (Status s = checkAddress(seed.host, seed.port, "redis cluster node"); !s.ok()) return s;
      shared->cluster_seeds.push_back({resolve(seed.host), seed.port});
    }
  } else if (options.sentinels.empty()) {
    if (Status s = checkAddress(options.host, options.port, "redis store"); !s.ok()) return s;
    shared->server = {resolve(options.host), options.port};
  } else {
    if (options.master_name.empty()) {
      return Status::InvalidArgument("redis store: Sentinel needs a master name");
    }
    for (const RedisAddress& sentinel : options.sentinels) {
      if (Status s = checkAddress(sentinel.host, sentinel.port, "redis sentinel"); !s.ok()) {
        return s;
      }
      shared->sentinels.push_back({resolve(sentinel.host), sentinel.port});
    }
  }
  return StoreBackendPtr(std::make_unique<RedisBackend>(std::move(shared)));
}

}  // namespace dedup
