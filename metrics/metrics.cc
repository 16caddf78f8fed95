#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace dedup {
namespace {

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return kBuckets;
}

constexpr std::string_view kStoreOpNames[kStoreOpCount] = {"begin", "commit", "release"};

}  // namespace

std::string_view outcomeName(DeliveryOutcome outcome) {
  static constexpr std::string_view kNames[kDeliveryOutcomeCount] = {
      "forwarded",   "replayed",      "in_flight",  "mismatch",        "missing_key",
      "passthrough", "store_error",   "app_error",  "app_unreachable", "app_timeout",
      "rejected",    "commit_failed", "lease_lost", "bad_signature"};
  return kNames[static_cast<size_t>(outcome)];
}

std::string_view limitName(LimitHit limit) {
  static constexpr std::string_view kNames[kLimitHitCount] = {
      "max_connections", "max_buffered",   "header_timeout",       "body_timeout",
      "idle_timeout",    "upstream_queue", "admin_max_connections"};
  return kNames[static_cast<size_t>(limit)];
}

Metrics::Metrics(std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      deliveries_(prometheus::BuildCounter()
                      .Name("dedup_proxy_deliveries_total")
                      .Help("Requests received, by route and how they ended")
                      .Register(*registry_)),
      upstream_duration_(prometheus::BuildHistogram()
                             .Name("dedup_proxy_upstream_duration_seconds")
                             .Help("Time from forwarding a delivery to the app's complete answer")
                             .Register(*registry_)),
      leases_expired_(prometheus::BuildCounter()
                          .Name("dedup_proxy_leases_expired_total")
                          .Help("Deliveries that took over a key whose lease had expired "
                                "(the earlier attempt may have reached the app)")
                          .Register(*registry_)),
      lease_lost_(prometheus::BuildCounter()
                      .Name("dedup_proxy_lease_lost_total")
                      .Help("Commits refused because the lease had been taken over")
                      .Register(*registry_)),
      in_flight_(prometheus::BuildGauge()
                     .Name("dedup_proxy_in_flight")
                     .Help("Deliveries holding a lease and waiting for the app")
                     .Register(*registry_)),
      store_duration_(prometheus::BuildHistogram()
                          .Name("dedup_proxy_store_operation_duration_seconds")
                          .Help("Dedup store operation latency")
                          .Register(*registry_)),
      store_errors_(prometheus::BuildCounter()
                        .Name("dedup_proxy_store_errors_total")
                        .Help("Dedup store operations that failed")
                        .Register(*registry_)),
      connections_(prometheus::BuildGauge()
                       .Name("dedup_proxy_connections")
                       .Help("Open connections by side (downstream = senders, upstream = app)")
                       .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("dedup_proxy_build_info")
      .Help("Build information; always 1")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  committed_keys_ = &prometheus::BuildGauge()
                         .Name("dedup_proxy_committed_keys")
                         .Help("Committed keys in the store (an estimate)")
                         .Register(*registry_)
                         .Add({});
  store_commits_ = &prometheus::BuildCounter()
                        .Name("dedup_proxy_store_commits_total")
                        .Help("Commits the dedup store made durable")
                        .Register(*registry_)
                        .Add({});
  store_syncs_ = &prometheus::BuildCounter()
                      .Name("dedup_proxy_store_syncs_total")
                      .Help("fsyncs the dedup store made (group commit: fewer than commits)")
                      .Register(*registry_)
                      .Add({});
  store_queue_full_ = &prometheus::BuildCounter()
                           .Name("dedup_proxy_store_queue_full_total")
                           .Help("Store operations refused because the store's queue was full")
                           .Register(*registry_)
                           .Add({});
  auto& limit_hits = prometheus::BuildCounter()
                         .Name("dedup_proxy_limit_hits_total")
                         .Help(
                             "Times a protective limit was hit, by limit (connections refused, "
                             "requests refused for the buffer budget or a full upstream queue, "
                             "deadlines)")
                         .Register(*registry_);
  for (size_t i = 0; i < kLimitHitCount; ++i) {
    limit_hits_[i] = &limit_hits.Add({{"limit", std::string(limitName(static_cast<LimitHit>(i)))}});
  }
  buffered_bytes_ = &prometheus::BuildGauge()
                         .Name("dedup_proxy_buffered_bytes")
                         .Help(
                             "Bytes held for senders across all connections (the budget "
                             "max_buffered caps it)")
                         .Register(*registry_)
                         .Add({});
  auto& log_lines = prometheus::BuildCounter()
                        .Name("dedup_proxy_log_lines_lost_total")
                        .Help(
                            "Log lines not written: dropped (the log buffer was full) or "
                            "suppressed (rate limit on lines about rejected requests)")
                        .Register(*registry_);
  log_dropped_ = &log_lines.Add({{"reason", "dropped"}});
  log_suppressed_ = &log_lines.Add({{"reason", "suppressed"}});
}

void Metrics::syncLogTotals(uint64_t dropped, uint64_t suppressed) {
  const auto catch_up = [](prometheus::Counter& counter, uint64_t total) {
    const double behind = static_cast<double>(total) - counter.Value();
    if (behind > 0) counter.Increment(behind);
  };
  catch_up(*log_dropped_, dropped);
  catch_up(*log_suppressed_, suppressed);
}

void Metrics::syncStoreTotals(uint64_t commits, uint64_t syncs, uint64_t queue_full) {
  const auto catch_up = [](prometheus::Counter& counter, uint64_t total) {
    const double behind = static_cast<double>(total) - counter.Value();
    if (behind > 0) counter.Increment(behind);
  };
  catch_up(*store_commits_, commits);
  catch_up(*store_syncs_, syncs);
  catch_up(*store_queue_full_, queue_full);
}

RouteMetrics& Metrics::route(const std::string& name) {
  auto [it, inserted] = routes_.try_emplace(name);
  RouteMetrics& r = it->second;
  if (inserted) {
    for (size_t i = 0; i < kDeliveryOutcomeCount; ++i) {
      r.outcomes_[i] = &deliveries_.Add(
          {{"route", name},
           {"outcome", std::string(outcomeName(static_cast<DeliveryOutcome>(i)))}});
    }
    r.upstream_duration_ = &upstream_duration_.Add({{"route", name}}, latencyBuckets());
    r.leases_expired_ = &leases_expired_.Add({{"route", name}});
    r.lease_lost_ = &lease_lost_.Add({{"route", name}});
    r.in_flight_ = &in_flight_.Add({{"route", name}});
  }
  return r;
}

StoreMetrics& Metrics::store(const std::string& name) {
  auto [it, inserted] = stores_.try_emplace(name);
  StoreMetrics& s = it->second;
  if (inserted) {
    for (size_t i = 0; i < kStoreOpCount; ++i) {
      const std::string op(kStoreOpNames[i]);
      s.durations_[i] = &store_duration_.Add({{"store", name}, {"op", op}}, latencyBuckets());
      s.errors_[i] = &store_errors_.Add({{"store", name}, {"op", op}});
    }
  }
  return s;
}

prometheus::Gauge& Metrics::connections(std::string_view side) {
  return connections_.Add({{"side", std::string(side)}});
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace dedup
