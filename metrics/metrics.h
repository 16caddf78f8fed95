// Metrics: the one place that names every metric family of dedup-proxy.
//
// Built once at start-up; per-route and per-store handles are resolved then,
// so the request path only touches atomics (prometheus-cpp counters and
// gauges), never a map or a lock. Thread-safety: all methods are safe from
// any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace dedup {

// How one request ended; each request is counted exactly once.
enum class DeliveryOutcome {
  kForwarded,       // first delivery, forwarded, app acknowledged
  kReplayed,        // duplicate of a committed key, stored response replayed
  kInFlight,        // duplicate while the first is at the app
  kMismatch,        // same key, different payload
  kMissingKey,      // no key where the route requires one
  kPassthrough,     // not deduplicated (method, no key), forwarded untouched
  kStoreError,      // the dedup store failed
  kAppError,        // the app answered with a non-ack status
  kAppUnreachable,  // 502
  kAppTimeout,      // 504
  kRejected,        // bad input: malformed, too large, invalid key
  kCommitFailed,    // the app acknowledged, the commit failed (not durable)
  kLeaseLost,       // the app acknowledged, another delivery had taken the key over
  kBadSignature,    // 401: the route verifies signatures and this one is missing, wrong or stale
};
inline constexpr size_t kDeliveryOutcomeCount = 14;
std::string_view outcomeName(DeliveryOutcome outcome);

// A limit of "Bounded under hostile senders" (DESIGN.md) that was hit; each
// hit is counted once, whether or not it was logged.
enum class LimitHit {
  kConnections,       // downstream connection refused: max_connections
  kBufferBudget,      // request refused with 503: max_buffered
  kHeaderTimeout,     // 408: headers not received in time
  kBodyTimeout,       // 408: body not received in time
  kIdleTimeout,       // keep-alive connection closed after idling
  kUpstreamQueue,     // 503: too many requests waiting for a connection to the app
  kAdminConnections,  // admin port stopped accepting: admin_max_connections
};
inline constexpr size_t kLimitHitCount = 7;
std::string_view limitName(LimitHit limit);

enum class StoreOp { kBegin, kCommit, kRelease };
inline constexpr size_t kStoreOpCount = 3;

// Handles for one route.
class RouteMetrics {
 public:
  void count(DeliveryOutcome outcome) { outcomes_[static_cast<size_t>(outcome)]->Increment(); }
  void observeUpstream(double seconds) { upstream_duration_->Observe(seconds); }
  void leaseExpired() { leases_expired_->Increment(); }
  void leaseLost() { lease_lost_->Increment(); }
  prometheus::Gauge& inFlight() { return *in_flight_; }

 private:
  friend class Metrics;
  std::array<prometheus::Counter*, kDeliveryOutcomeCount> outcomes_{};
  prometheus::Histogram* upstream_duration_ = nullptr;
  prometheus::Counter* leases_expired_ = nullptr;
  prometheus::Counter* lease_lost_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
};

// Handles for one store.
class StoreMetrics {
 public:
  void observe(StoreOp op, double seconds) {
    durations_[static_cast<size_t>(op)]->Observe(seconds);
  }
  void error(StoreOp op) { errors_[static_cast<size_t>(op)]->Increment(); }

 private:
  friend class Metrics;
  std::array<prometheus::Histogram*, kStoreOpCount> durations_{};
  std::array<prometheus::Counter*, kStoreOpCount> errors_{};
};

class Metrics {
 public:
  explicit Metrics(std::string_view version);

  // Call at start-up for every route and the store; the references stay valid.
  RouteMetrics& route(const std::string& name);
  StoreMetrics& store(const std::string& name);
  prometheus::Gauge& connections(std::string_view side);  // "downstream" | "upstream"
  prometheus::Gauge& committedKeys() { return *committed_keys_; }
  prometheus::Counter& limitHit(LimitHit limit) { return *limit_hits_[static_cast<size_t>(limit)]; }
  // Bytes held for senders now (set at scrape time from the buffer budget).
  prometheus::Gauge& bufferedBytes() { return *buffered_bytes_; }
  // Brings the log's cumulative counts (lines dropped because its buffer was
  // full, lines left out by rate limits) into their counters. Scrape time.
  void syncLogTotals(uint64_t dropped, uint64_t suppressed);
  // Brings the store's own cumulative counts (durable commits, fsyncs,
  // operations refused by a full queue) into their counters. Called at scrape
  // time, from one thread.
  void syncStoreTotals(uint64_t commits, uint64_t syncs, uint64_t queue_full = 0);

  // Prometheus text exposition format of everything registered.
  std::string serialize() const;
  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Histogram>& upstream_duration_;
  prometheus::Family<prometheus::Counter>& leases_expired_;
  prometheus::Family<prometheus::Counter>& lease_lost_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  prometheus::Family<prometheus::Histogram>& store_duration_;
  prometheus::Family<prometheus::Counter>& store_errors_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Gauge* committed_keys_;
  prometheus::Counter* store_commits_;
  prometheus::Counter* store_syncs_;
  prometheus::Counter* store_queue_full_;
  std::array<prometheus::Counter*, kLimitHitCount> limit_hits_{};
  prometheus::Gauge* buffered_bytes_;
  prometheus::Counter* log_dropped_;
  prometheus::Counter* log_suppressed_;
  std::map<std::string, RouteMetrics> routes_;
  std::map<std::string, StoreMetrics> stores_;
};

}  // namespace dedup
