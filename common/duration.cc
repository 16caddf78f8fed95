#include "common/duration.h"

#include <algorithm>
#include <cctype>

namespace dedup {
namespace {

bool readNumber(std::string_view text, size_t& pos, uint64_t& value) {
  const size_t start = pos;
  value = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    if (value > (UINT64_MAX - 9) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(text[pos] - '0');
    ++pos;
  }
  return pos > start;
}

}  // namespace

StatusOr<std::chrono::milliseconds> parseDuration(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)");
  };
  // Ten years: far beyond any TTL or timeout, far below int64 milliseconds.
  constexpr uint64_t kMaxMs = 10ull * 365 * 86'400'000;
  if (text.empty()) return bad();
  size_t pos = 0;
  uint64_t n;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (!readNumber(text, pos, n) || n > kMaxMs / 1000) return bad();
    return std::chrono::milliseconds(static_cast<int64_t>(n * 1000));  // bare number: seconds
  }
  uint64_t total_ms = 0;
  while (pos < text.size()) {
    if (!readNumber(text, pos, n)) return bad();
    size_t unit_end = pos;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    const std::string_view unit = text.substr(pos, unit_end - pos);
    uint64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else {
      return bad();  // also a unit-less number after a unit: "1m30"
    }
    if (n > kMaxMs / scale || total_ms + n * scale > kMaxMs) return bad();
    total_ms += n * scale;
    pos = unit_end;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

StatusOr<uint64_t> parseSize(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a size (use e.g. 1024, 64KiB, 8MiB)");
  };
  size_t pos = 0;
  uint64_t n;
  if (!readNumber(text, pos, n)) return bad();
  const std::string_view unit = text.substr(pos);
  uint64_t scale;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K" || unit == "KB" || unit == "KiB") {
    scale = 1ull << 10;
  } else if (unit == "M" || unit == "MB" || unit == "MiB") {
    scale = 1ull << 20;
  } else if (unit == "G" || unit == "GB" || unit == "GiB") {
    scale = 1ull << 30;
  } else {
    return bad();
  }
  if (n > UINT64_MAX / scale) return bad();
  return n * scale;
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  const struct {
    int64_t scale;
    const char* unit;
  } units[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : units) {
    if (ms >= u.scale) {
      out += std::to_string(ms / u.scale) + u.unit;
      ms %= u.scale;
    }
  }
  return out;
}

int64_t retryAfterSeconds(std::chrono::milliseconds wait) {
  return std::max<int64_t>(1, (wait.count() + 999) / 1000);
}

}  // namespace dedup
