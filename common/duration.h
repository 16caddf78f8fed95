// Parsing of human-written durations ("24h", "30s", "1h30m", "250ms") and
// sizes ("64KiB", "8MiB", "1024"). Used by config on every part's options.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dedup {

// Units: ms, s, m, h, d; several may follow each other ("1h30m"). A bare
// number means seconds. Negative values are rejected.
StatusOr<std::chrono::milliseconds> parseDuration(std::string_view text);
// Units: B, KiB, MiB, GiB (also K, M, G, KB, MB, GB as binary units). A bare
// number means bytes.
StatusOr<uint64_t> parseSize(std::string_view text);
// "1h30m", "250ms", "0s": the shortest exact form.
std::string formatDuration(std::chrono::milliseconds d);

// The value of a Retry-After header for `wait`: whole seconds, rounded up,
// at least 1 (0 would invite an immediate retry storm).
int64_t retryAfterSeconds(std::chrono::milliseconds wait);

}  // namespace dedup
