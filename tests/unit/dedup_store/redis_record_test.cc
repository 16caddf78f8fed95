// The committed-record layout of the Redis store.
#include "dedup_store/redis_record.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace dedup {
namespace {

TEST(RedisRecordTest, RoundTrips) {
  RedisCommitted bare;
  EXPECT_EQ(encodeRedisCommitted(bare), "200");  // kept by Redis as a shared integer
  Fingerprint fp{};                              // as stored: only the first kRedisFingerprintBytes
  std::fill_n(fp.begin(), kRedisFingerprintBytes, 7);
  for (const RedisCommitted& r :
       {bare, RedisCommitted{{}, {404, "", ""}}, RedisCommitted{fp, {200, "", ""}},
        RedisCommitted{{}, {201, "application/json", "{\"ok\":true}"}},
        RedisCommitted{fp, {500, "text/plain", std::string("a\0b", 3)}},
        RedisCommitted{{}, {200, "", "body only"}}}) {
    StatusOr<RedisCommitted> back = decodeRedisCommitted(encodeRedisCommitted(r));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, r);
  }
  for (const char* bad : {"", "C", "C\x01", "12a", "99999999", "L1:2:3:"}) {
    EXPECT_FALSE(decodeRedisCommitted(bad).ok()) << bad;
  }
}

TEST(RedisRecordTest, ReplayedHeadersRoundTripAndCostNothingWhenAbsent) {
  Fingerprint fp{};
  std::fill_n(fp.begin(), kRedisFingerprintBytes, 7);
  RedisCommitted plain{fp, {201, "application/json", "{}"}};
  RedisCommitted with = plain;
  with.response.headers = {{"Location", "/orders/1842"}, {"Set-Cookie", "a=1"}, {"X-E", ""}};
  EXPECT_EQ(encodeRedisCommitted(plain).size(), 1 + 2 + 1 + kRedisFingerprintBytes + 2 + 16 + 2);
  EXPECT_EQ(
      encodeRedisCommitted(with).size(),
      encodeRedisCommitted(plain).size() + 1 + (1 + 8 + 1 + 12) + (1 + 10 + 1 + 3) + (1 + 3 + 1));
  RedisCommitted status_only{{}, {204, "", ""}};
  status_only.response.headers = {{"X-Id", "7"}};
  for (const RedisCommitted& r : {plain, with, status_only}) {
    StatusOr<RedisCommitted> back = decodeRedisCommitted(encodeRedisCommitted(r));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, r);
  }
  // The short form is for bare statuses only.
  EXPECT_EQ(encodeRedisCommitted(status_only)[0], 'C');
  const std::string bytes = encodeRedisCommitted(with);
  for (size_t size = 1 + 2 + 1 + kRedisFingerprintBytes + 2 + 16; size < bytes.size() - 2; ++size) {
    EXPECT_FALSE(decodeRedisCommitted(bytes.substr(0, size)).ok()) << size;
  }
}

TEST(RedisRecordTest, FingerprintIsKeptTruncated) {
  Fingerprint full{};
  for (size_t i = 0; i < full.size(); ++i) full[i] = static_cast<uint8_t>(i + 1);
  const std::string encoded = encodeRedisCommitted(RedisCommitted{full, {200, "", ""}});
  EXPECT_EQ(encoded.size(), 1 + 2 + 1 + kRedisFingerprintBytes + 2);
  StatusOr<RedisCommitted> back = decodeRedisCommitted(encoded);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->fingerprint, redisFingerprint(full));
  EXPECT_EQ(back->fingerprint[kRedisFingerprintBytes - 1], kRedisFingerprintBytes);
  EXPECT_EQ(back->fingerprint[kRedisFingerprintBytes], 0);
}

}  // namespace
}  // namespace dedup
