// The committed value the Redis store keeps per key, compact for memory:
//   - no content type, no body, no fingerprint: the status in decimal ("200"),
//     which Redis keeps as a shared integer (no allocation for the value);
//   - otherwise: 'C' | status u16 | flags u8 (bit 0: fingerprint follows) |
//     [fingerprint 16B] | content_type_len u16 | content_type |
//     [headers: a stored_headers.h section, iff bit 15 of content_type_len] |
//     body (rest). Content types are kept to 32767 bytes.
// The payload fingerprint is kept truncated to its first 16 bytes (128 bits
// tell payloads apart as well as 256 here, and the record fits a smaller
// Redis allocation).
// Leases ('L…') are written and read by the Lua scripts only.
// Thread-safety: free functions on values.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

struct RedisCommitted {
  Fingerprint fingerprint{};
  StoredResponse response;
  bool operator==(const RedisCommitted&) const = default;
};

constexpr size_t kRedisFingerprintBytes = 16;

// `fp` as the Redis store keeps it: bytes past kRedisFingerprintBytes zeroed.
Fingerprint redisFingerprint(const Fingerprint& fp);

// response.status must be in [0, 65535]; content_type at most 32767 bytes.
std::string encodeRedisCommitted(const RedisCommitted& record);
// Corruption when `value` is not a committed record.
StatusOr<RedisCommitted> decodeRedisCommitted(std::string_view value);

}  // namespace dedup
