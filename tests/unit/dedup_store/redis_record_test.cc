// The committed-record layout of the Redis store.
#include "dedup_store/redis_record.h"

#include <gtest/gtest.h>

namespace dedup {
namespace {

TEST(RedisRecordTest, RoundTrips) {
  RedisCommitted bare;
  EXPECT_EQ(encodeRedisCommitted(bare), "200");  // kept by Redis as a shared integer
  Fingerprint fp{};
  fp.fill(7);
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

}  // namespace
}  // namespace dedup
