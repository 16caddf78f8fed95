// The Redis store's pure parts: URI parsing and the committed-record layout.
#include "dedup_store/redis_record.h"

#include <gtest/gtest.h>

#include "dedup_store/redis_store.h"

namespace dedup {
namespace {

TEST(RedisUriTest, ParsesHostPortDbAndCredentials) {
  StatusOr<RedisOptions> o = parseRedisUri("redis://alice:s3cr:et@redis.example:6380/2");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->username, "alice");
  EXPECT_EQ(o->password, "s3cr:et");
  EXPECT_EQ(o->host, "redis.example");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 2);

  o = parseRedisUri("redis://localhost");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "localhost");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->password.empty());

  o = parseRedisUri("redis://:pw@[::1]:7000/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->password, "pw");
  EXPECT_TRUE(o->username.empty());
}

TEST(RedisUriTest, RejectsBadUris) {
  StatusOr<RedisOptions> tls = parseRedisUri("rediss://h:6379");
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(tls.status().message().find("Debian's hiredis 0.14 has no TLS"), std::string::npos);
  for (const char* uri : {"redis://", "redis://:6379", "redis://h:0", "redis://h:x",
                          "redis://h:70000", "redis://h:6379/x", "redis://h:6379/-1",
                          "redis://user@h", "redis://h:", "http://h:6379", "redis://[::1"}) {
    SCOPED_TRACE(uri);
    StatusOr<RedisOptions> o = parseRedisUri(uri);
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.status().code(), Status::Code::kInvalidArgument);
  }
}

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
