// dedup-bench-load: fills a RocksDB dedup store with committed keys through
// the store API (begin, then commit), for the bench's time-to-ready and
// resident-memory-per-key step (tests/bench/run.sh). Not a test.
//
//   dedup-bench-load PATH COUNT [BODY]
//
// Keeps a window of operations in flight so the store thread sees large
// batches (group commit), exactly as under many concurrent senders.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/event_loop.h"
#include "dedup_store/dedup_store.h"
#include "dedup_store/rocksdb_store.h"

namespace {

constexpr uint64_t kWindow = 4096;

class Loader {
 public:
  Loader(dedup::DedupStore& store, dedup::EventLoop& loop, uint64_t count, std::string body)
      : store_(store), loop_(loop), count_(count), body_(std::move(body)) {}

  void start() {
    while (started_ < count_ && started_ < kWindow) next();
  }
  uint64_t failures() const { return failures_; }

 private:
  void next() {
    const uint64_t n = started_++;
    dedup::BeginRequest request;
    request.key = dedup::StoreKey::of("bench", "load-" + std::to_string(n));
    store_.begin(request, [this, key = request.key](dedup::StatusOr<dedup::BeginResult> begun) {
      if (!begun.ok() || begun->outcome != dedup::BeginResult::Outcome::kNew) {
        finish(false);
        return;
      }
      dedup::StoredResponse response;
      response.content_type = "application/json";
      response.body = body_;
      store_.commit(key, begun->token, std::move(response), std::chrono::hours(24),
                    [this](dedup::StatusOr<dedup::CommitOutcome> done) {
                      finish(done.ok() && *done == dedup::CommitOutcome::kCommitted);
                    });
    });
  }
  void finish(bool ok) {
    if (!ok) ++failures_;
    if (++finished_ == count_) {
      loop_.exit();
    } else if (started_ < count_) {
      next();
    }
  }

  dedup::DedupStore& store_;
  dedup::EventLoop& loop_;
  const uint64_t count_;
  const std::string body_;
  uint64_t started_ = 0;
  uint64_t finished_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PATH COUNT [BODY]\n", argv[0]);
    return 2;
  }
  const uint64_t count = std::strtoull(argv[2], nullptr, 10);
  if (count == 0) return 0;
  dedup::RocksDbOptions options;
  options.path = argv[1];
  auto backend = dedup::openRocksDbStore(options);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", backend.status().ToString().c_str());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  {
    dedup::EventLoop loop;
    dedup::DedupStorePtr store = backend.value()->attach(loop);
    Loader loader(*store, loop, count, argc > 3 ? argv[3] : "{\"ok\":true}");
    loader.start();
    loop.run();
    failures = loader.failures();
  }
  const dedup::Status closed = backend.value()->close();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("loaded %llu keys in %.2f s (%llu failed)%s\n",
              static_cast<unsigned long long>(count), seconds,
              static_cast<unsigned long long>(failures),
              closed.ok() ? "" : (" close: " + closed.ToString()).c_str());
  return failures == 0 && closed.ok() ? 0 : 1;
}
