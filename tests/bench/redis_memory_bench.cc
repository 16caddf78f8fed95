// Commits N fresh keys through the real Redis store (openRedisStore: the same
// Lua scripts, key naming and record format as the proxy), no response body,
// with a window of operations in flight on one event loop. redis_memory.sh
// runs it against its own redis-server and reads INFO memory around it.
//
//   redis_memory_bench PORT KEYS [PREFIX [fingerprint]]
//
// With "fingerprint" each key also keeps a payload fingerprint (the proxy's
// default route profile fingerprints payloads).
// Exit 0 when every key was committed, 1 otherwise (the count is printed).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/sha256.h"
#include "dedup_store/redis_store.h"

namespace dedup {
namespace {

constexpr int kWindow = 2000;  // operations in flight

class Committer {
 public:
  Committer(EventLoop& loop, DedupStore& store, long keys, bool fingerprint)
      : loop_(loop), store_(store), keys_(keys), fingerprint_(fingerprint) {}

  void start() {
    for (int i = 0; i < kWindow; ++i) next();
  }
  long committed() const { return committed_; }
  long failed() const { return failed_; }

 private:
  void next() {
    if (started_ >= keys_) return;
    BeginRequest request;
    request.key = StoreKey::of("bench", "key-" + std::to_string(started_++));
    request.lease = std::chrono::seconds(60);
    if (fingerprint_) request.fingerprint = sha256("payload-" + std::to_string(started_));
    store_.begin(request, [this, key = request.key](StatusOr<BeginResult> r) {
      if (!r.ok() || r->outcome != BeginResult::Outcome::kNew) {
        if (!r.ok()) std::fprintf(stderr, "begin: %s\n", r.status().ToString().c_str());
        done(false);
        return;
      }
      store_.commit(
          key, r->token, StoredResponse{200, "", ""}, std::chrono::hours(24),
          [this](StatusOr<CommitOutcome> c) { done(c.ok() && *c == CommitOutcome::kCommitted); });
    });
  }

  void done(bool ok) {
    ++(ok ? committed_ : failed_);
    if (committed_ + failed_ == keys_) {
      loop_.exit();
      return;
    }
    next();
  }

  EventLoop& loop_;
  DedupStore& store_;
  const long keys_;
  const bool fingerprint_;
  long started_ = 0, committed_ = 0, failed_ = 0;
};

int run(int port, long keys, const std::string& prefix, bool fingerprint) {
  RedisOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.prefix = prefix;
  options.command_timeout = std::chrono::seconds(30);
  options.connect_timeout = std::chrono::seconds(10);
  // DEDUP_BENCH_CLUSTER=1: the server is a one-node Redis Cluster (all slots).
  if (const char* cluster = std::getenv("DEDUP_BENCH_CLUSTER"); cluster && cluster[0] == '1') {
    options.cluster_seeds = {{"127.0.0.1", port}};
  }
  StatusOr<StoreBackendPtr> backend = openRedisStore(options);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", backend.status().ToString().c_str());
    return 2;
  }
  EventLoop loop;
  DedupStorePtr store = (*backend)->attach(loop);
  Committer committer(loop, *store, keys, fingerprint);
  const auto started = std::chrono::steady_clock::now();
  loop.post([&] { committer.start(); });
  loop.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("committed %ld keys (%ld failed) in %.1f s (%.0f keys/s)\n", committer.committed(),
              committer.failed(), seconds, committer.committed() / seconds);
  store.reset();
  return committer.failed() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dedup

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PORT KEYS [PREFIX [fingerprint]]\n", argv[0]);
    return 2;
  }
  return dedup::run(std::atoi(argv[1]), std::atol(argv[2]), argc > 3 ? argv[3] : "dedup:",
                    argc > 4 && std::string(argv[4]) == "fingerprint");
}
