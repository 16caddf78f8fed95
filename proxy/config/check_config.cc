#include "proxy/config/check_config.h"

#include <cstdio>

#include "proxy/config/route_table.h"

namespace dedup {

int checkConfig(const Config& config) {
  auto routes = buildRoutes(config);
  if (!routes.ok()) {
    std::fprintf(stderr, "dedup-proxy: %s\n", routes.status().message().c_str());
    return 2;
  }
  for (const std::string& warning : retryHorizonWarnings(**routes)) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  std::printf("config ok\nupstream: %s\nstore: %s\n%s", config.upstream_text.c_str(),
              config.store.c_str(), describeRoutes(**routes).c_str());
  return 0;
}

}  // namespace dedup
