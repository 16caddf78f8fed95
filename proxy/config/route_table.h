// RouteTable: the routes in config order, and the route a request belongs
// to (the first that matches). Requests no route matches go to the
// "unmatched" route, which forwards them untouched. With no `routes:` in the
// config there is one route, "default", for every request.
//
// Built once by buildRoutes(); read-only afterwards and shared by all
// workers. metrics are attached by the server before workers start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/http_message.h"
#include "common/status.h"
#include "proxy/config/config.h"
#include "proxy/config/route.h"

namespace dedup {

class RouteTable {
 public:
  const Route& match(const Request& request) const;
  // Where a request that cannot be routed (malformed) is counted.
  const Route& fallback() const;
  const Route* find(const std::string& name) const;

  std::vector<std::unique_ptr<Route>>& routes() { return routes_; }
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }
  Route& unmatched() { return unmatched_; }
  const Route& unmatched() const { return unmatched_; }
  // Configured with `routes:` (else the one default route takes everything).
  bool explicit_routes = false;
  // Every signature secret file the routes read, once each, for SIGHUP.
  std::vector<std::shared_ptr<SigningKeyFile>>& signingKeyFiles() { return signing_key_files_; }
  const std::vector<std::shared_ptr<SigningKeyFile>>& signingKeyFiles() const {
    return signing_key_files_;
  }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<std::shared_ptr<SigningKeyFile>> signing_key_files_;
  Route unmatched_;
};

// The routes of `config`: presets resolved, key specs built, overrides
// applied. Errors name the route and the bad value (InvalidArgument).
StatusOr<std::unique_ptr<RouteTable>> buildRoutes(const Config& config);

// Re-reads every signature secret file (SIGHUP). A file that fails keeps
// its keys in force; the result names each failure.
Status reloadSigningKeys(const RouteTable& table);

// One warning per route whose TTL is shorter than its sender's retry horizon.
std::vector<std::string> retryHorizonWarnings(const RouteTable& table);

// The effective routes, one block each, for --check-config.
std::string describeRoutes(const RouteTable& table);

}  // namespace dedup
