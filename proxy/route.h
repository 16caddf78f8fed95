// Route: what the proxy does with the requests it matches: which key names a
// message, in which scope keys are counted, and for how long. Built at
// start-up, read-only afterwards (shared by all workers).
#pragma once

#include <chrono>
#include <string>

#include "adapters/key_extractor.h"
#include "metrics/metrics.h"

namespace dedup {

struct Route {
  std::string name = "default";  // also the scope of its keys
  KeyExtractorPtr extractor;
  bool require_key = false;  // a dedup request without a key → 400
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  std::chrono::milliseconds lease{std::chrono::seconds(35)};
  RouteMetrics* metrics = nullptr;

  // POST, PUT and PATCH carry deliveries; other methods pass straight through.
  static bool deduplicates(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH";
  }
};

}  // namespace dedup
