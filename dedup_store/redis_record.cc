#include "dedup_store/redis_record.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "dedup_store/stored_headers.h"

namespace dedup {
namespace {

bool isZero(const Fingerprint& fp) {
  return std::all_of(fp.begin(), fp.end(), [](uint8_t b) { return b == 0; });
}

void putU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

uint16_t getU16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) |
                               (static_cast<uint8_t>(s[at + 1]) << 8));
}

// In content_type_len: a header section follows the content type. The commit
// script rewrites the flags byte but copies this field untouched.
constexpr uint16_t kHeadersFollow = 0x8000;
constexpr size_t kMaxContentType = 0x7fff;

}  // namespace

Fingerprint redisFingerprint(const Fingerprint& fp) {
  Fingerprint out{};
  std::copy_n(fp.begin(), kRedisFingerprintBytes, out.begin());
  return out;
}

std::string encodeRedisCommitted(const RedisCommitted& record) {
  const StoredResponse& r = record.response;
  const Fingerprint fp = redisFingerprint(record.fingerprint);
  const bool has_fp = !isZero(fp);
  if (!has_fp && r.content_type.empty() && r.body.empty() && r.headers.empty() && r.status >= 0 &&
      r.status <= 9999) {
    return std::to_string(r.status);
  }
  std::string out;
  out.reserve(6 + (has_fp ? kRedisFingerprintBytes : 0) + r.content_type.size() + r.body.size());
  out.push_back('C');
  putU16(out, static_cast<uint16_t>(r.status));
  out.push_back(has_fp ? 1 : 0);
  if (has_fp) out.append(reinterpret_cast<const char*>(fp.data()), kRedisFingerprintBytes);
  const size_t ct_len = std::min<size_t>(r.content_type.size(), kMaxContentType);
  putU16(out, static_cast<uint16_t>(r.headers.empty() ? ct_len : ct_len | kHeadersFollow));
  out.append(r.content_type, 0, ct_len);
  if (!r.headers.empty()) appendHeaderSection(out, r.headers);
  out.append(r.body);
  return out;
}

StatusOr<RedisCommitted> decodeRedisCommitted(std::string_view value) {
  RedisCommitted record;
  if (value.empty()) return Status::Corruption("redis store: empty value");
  if (value[0] >= '0' && value[0] <= '9') {
    int status = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), status);
    if (ec != std::errc() || end != value.data() + value.size() || status > 65535) {
      return Status::Corruption("redis store: bad short record");
    }
    record.response.status = status;
    return record;
  }
  if (value[0] != 'C' || value.size() < 4) {
    return Status::Corruption("redis store: not a committed record");
  }
  record.response.status = getU16(value, 1);
  const uint8_t flags = static_cast<uint8_t>(value[3]);
  size_t at = 4;
  if (flags & 1) {
    if (value.size() < at + kRedisFingerprintBytes) {
      return Status::Corruption("redis store: truncated fingerprint");
    }
    std::copy_n(value.data() + at, kRedisFingerprintBytes,
                reinterpret_cast<char*>(record.fingerprint.data()));
    at += kRedisFingerprintBytes;
  }
  if (value.size() < at + 2) return Status::Corruption("redis store: truncated record");
  const uint16_t ct_field = getU16(value, at);
  const size_t ct_len = ct_field & ~kHeadersFollow;
  at += 2;
  if (value.size() < at + ct_len) return Status::Corruption("redis store: truncated content type");
  record.response.content_type = std::string(value.substr(at, ct_len));
  std::string_view rest = value.substr(at + ct_len);
  if ((ct_field & kHeadersFollow) && !readHeaderSection(rest, record.response.headers)) {
    return Status::Corruption("redis store: bad replayed header section");
  }
  record.response.body = std::string(rest);
  return record;
}

}  // namespace dedup
