// The dedup store: where each key's state (absent, in flight, released,
// committed)
// lives, with the transitions of DESIGN.md "The key's life".
//
// Two levels:
//  - StoreBackend: one per process, thread-safe; owns the database (RocksDB)
//    or the connection settings (Redis). attach() gives each worker its own
//    DedupStore bound to that worker's event loop.
//  - DedupStore: used only from its worker's thread. Every call is
//    asynchronous and its callback runs later on that worker's loop, never
//    inside the call itself, and exactly once (with a non-OK Status if the
//    store fails or is closed). The one exception: destroying a DedupStore
//    drops its pending callbacks without running them (its loop may be gone).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"

namespace dedup {

class EventLoop;

// Fixed-size digest of (scope, key): what the store keeps instead of the
// sender's key, so memory and disk per key are bounded.
struct StoreKey {
  static constexpr size_t kSize = 16;
  std::array<uint8_t, kSize> digest{};

  static StoreKey of(std::string_view scope, std::string_view key);
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
  }
  std::string hex() const { return toHex(digest.data(), digest.size()); }
  bool operator==(const StoreKey&) const = default;
};

// SHA-256 of the payload; all zeros means "not fingerprinted".
using Fingerprint = Sha256Digest;

// Opaque fencing token of one lease. A commit or release with a token that no
// longer holds the lease does not change the key.
using LeaseToken = uint64_t;

// What a committed key remembers of the app's answer, replayed to duplicates.
struct StoredResponse {
  int status = 200;
  std::string content_type;  // empty: none
  std::string body;          // at most the configured limit
  // The app's other end-to-end headers worth replaying, in the app's order
  // (names as the app spelled them); empty for most keys, and then they cost
  // no bytes in either store.
  std::vector<std::pair<std::string, std::string>> headers{};
  bool operator==(const StoredResponse&) const = default;
};

struct BeginRequest {
  StoreKey key;
  Fingerprint fingerprint{};
  std::chrono::milliseconds lease{30000};
};

struct BeginResult {
  enum class Outcome {
    kNew,        // the caller holds a lease: forward to the app
    kCommitted,  // replay `response`
    kInFlight,   // another delivery holds a live lease
    kMismatch,   // committed, but with another payload fingerprint
  };
  Outcome outcome = Outcome::kNew;
  LeaseToken token = 0;                      // kNew: the lease to commit or release
  uint32_t attempt = 1;                      // kNew: 1, or more after a release or an expired lease
  std::optional<StoredResponse> response;    // kCommitted
  std::chrono::milliseconds retry_after{0};  // kInFlight: time left on the lease
};

enum class CommitOutcome {
  kCommitted,  // durable
  kLeaseLost,  // the lease expired and another delivery took the key over
};

// What the admin API shows of one key.
struct KeyState {
  enum class Kind { kAbsent, kInFlight, kCommitted, kReleased };
  Kind kind = Kind::kAbsent;
  uint32_t attempt = 0;                     // kInFlight, kCommitted, kReleased (the count kept)
  std::chrono::milliseconds lease_left{0};  // kInFlight (0: expired or left by a dead process)
  int64_t expires_at_ms = 0;                // kCommitted, kReleased: Unix time in ms
  int status = 0;                           // kCommitted: the stored answer's status
};

enum class ForgetOutcome {
  kForgotten,  // a committed key was removed: its next delivery is processed again
  kAbsent,     // nothing committed under this key
  kInFlight,   // a delivery holds the key; nothing changed
};

using BeginCallback = std::function<void(StatusOr<BeginResult>)>;
using CommitCallback = std::function<void(StatusOr<CommitOutcome>)>;
using ReleaseCallback = std::function<void(Status)>;
using InspectCallback = std::function<void(StatusOr<KeyState>)>;
using ForgetCallback = std::function<void(StatusOr<ForgetOutcome>)>;

class DedupStore {
 public:
  virtual ~DedupStore() = default;

  // absent → in flight (kNew); committed → kCommitted or kMismatch; live lease
  // → kInFlight; expired lease → in flight again with attempt + 1.
  virtual void begin(const BeginRequest& request, BeginCallback done) = 0;
  // in flight with `token` → committed for `ttl`, durable before `done` runs.
  virtual void commit(const StoreKey& key, LeaseToken token, StoredResponse response,
                      std::chrono::milliseconds ttl, CommitCallback done) = 0;
  // in flight with `token` → released: the attempt count is kept for `ttl`, so the
  // next begin is kNew with attempt + 1 (DESIGN.md "released").
  virtual void release(const StoreKey& key, LeaseToken token, std::chrono::milliseconds ttl,
                       ReleaseCallback done) = 0;

  // A begin decided at once, on the worker's own thread, when the store can
  // decide it without waiting for anything (nothing blocks); nullopt: call
  // begin(), which always decides. Like begin(), it may grant a lease, which
  // the caller then holds. An exception to "never inside the call", for the
  // common path of a delivery. Default: never.
  virtual std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request) {
    (void)request;
    return std::nullopt;
  }

  // For the admin key API, off the delivery path. A store that cannot do
  // these answers InvalidArgument at once (inside the call).
  virtual void inspect(const StoreKey& key, InspectCallback done) {
    (void)key;
    done(Status::InvalidArgument("this store cannot inspect keys"));
  }
  // committed → absent (durable before `done`); in flight is left alone.
  virtual void forget(const StoreKey& key, ForgetCallback done) {
    (void)key;
    done(Status::InvalidArgument("this store cannot forget keys"));
  }
};
using DedupStorePtr = std::unique_ptr<DedupStore>;

// Counters a backend keeps about itself, for metrics and benchmarks.
struct StoreStats {
  uint64_t commits = 0;                  // commits made durable
  uint64_t syncs = 0;                    // fsyncs (group commit: syncs <= commits)
  int64_t committed_keys_estimate = -1;  // -1: unknown without a scan
  uint64_t queue_full = 0;               // operations refused: the store's queue was full
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  // Name for metrics and logs: "rocksdb", "redis".
  virtual std::string_view name() const = 0;
  // A DedupStore whose callbacks run on `loop`. The backend must outlive it.
  virtual DedupStorePtr attach(EventLoop& loop) = 0;
  // Whether the store can currently serve requests (for /readyz).
  virtual bool healthy() const = 0;
  // OK while the backend can serve. Once it failed for good (e.g. a failed
  // sync: what it acknowledged may not be on disk, and it can no longer
  // promise anything) the reason; every later operation fails. The process
  // recovers from what is durable by restarting (crash-only; README
  // "Guarantee"). Default: never.
  virtual Status fatalError() const { return Status::OK(); }
  virtual StoreStats stats() const = 0;
  // Finishes every operation queued so far (an acknowledged commit still
  // becomes durable), flushes, and stops: later calls complete with
  // Unavailable. Blocks; call at shutdown.
  virtual Status close() = 0;
};
using StoreBackendPtr = std::unique_ptr<StoreBackend>;

}  // namespace dedup
