// dedup-proxy --check-config: builds the routes from a loaded Config the way
// the server would, without opening the store or binding a port, and prints
// them (stdout) with any warnings (stderr). Returns the exit status: 0 valid,
// 2 invalid.
#pragma once

#include "proxy/config/config.h"

namespace dedup {

int checkConfig(const Config& config);

}  // namespace dedup
