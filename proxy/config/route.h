// Route: what the proxy does with the requests it matches: which requests
// (path, method, host), which key names a message, in which scope keys are
// counted, for how long, and how the sender is answered (its profile). Built
// at start-up by buildRoutes() (route_table.h), read-only afterwards (shared
// by all workers).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "adapters/key_extractor.h"
#include "adapters/preset.h"
#include "adapters/profile.h"
#include "adapters/signature_verifier.h"
#include "adapters/signing_key_file.h"
#include "common/http_message.h"
#include "metrics/metrics.h"

namespace dedup {

struct RouteMatch {
  std::string path = "/";
  bool path_is_prefix = true;
  // Methods this route takes; empty: every method, and only POST, PUT and
  // PATCH are deduplicated (the others pass straight through).
  std::vector<std::string> methods;
  std::string host;  // empty: any; else the Host header without its port

  bool matches(const Request& request) const;
};

struct Route {
  std::string name = "default";   // metric label, admin API path
  std::string scope = "default";  // keys of different scopes never meet
  RouteMatch match;
  std::string preset{kDefaultPreset};
  KeyExtractorPtr extractor;
  Profile profile;
  bool require_key = false;           // a dedup request without a key → profile.missing_key
  bool store_error_forwards = false;  // fail open: forward without dedup
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  std::chrono::milliseconds lease{std::chrono::seconds(35)};
  std::optional<std::chrono::hours> retry_horizon;  // the preset's, for warnings
  bool passthrough_only = false;                    // the "unmatched" route: forwards, never dedups
  // Set when every request of this route must be signed: checked before its
  // key is looked at (proxy/signature_check.h). The key file is shared with
  // other routes of the same file and scheme, and swapped on SIGHUP.
  SignatureVerifierPtr signature;
  std::shared_ptr<SigningKeyFile> signing_keys;
  RouteMetrics* metrics = nullptr;

  bool deduplicates(const Request& request) const;
};

}  // namespace dedup
