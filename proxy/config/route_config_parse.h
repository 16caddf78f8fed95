// Reads the YAML config file's `routes:` list into RouteConfig entries
// (config.h). Internal to proxy/: used by loadConfig() and by tests. Checks
// what the YAML alone can tell (field names, types, status codes, durations,
// duplicate names); presets and key specs are checked when the routes are
// built (route_table.h). Errors name the route, the field and the line.
// Thread-safety: pure function.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "proxy/config/config.h"

namespace dedup {

Status parseRoutes(const YAML::Node& routes, const std::string& path,
                   std::vector<RouteConfig>& out);

}  // namespace dedup
