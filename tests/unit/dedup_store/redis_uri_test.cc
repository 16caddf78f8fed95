// Parsing the Redis store URIs: redis:// and redis-sentinel://.
#include "dedup_store/redis_uri.h"

#include <gtest/gtest.h>

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
  for (const char* uri :
       {"redis://", "redis://:6379", "redis://h:0", "redis://h:x", "redis://h:70000",
        "redis://h:6379/x", "redis://h:6379/-1", "redis://user@h", "redis://h:", "http://h:6379",
        "redis://[::1", "redis-sentinel://", "redis-sentinel://h:26379",
        "redis-sentinel://h:26379/", "redis-sentinel://h:x/m", "redis-sentinel://h,/m",
        "redis-sentinel://,h/m", "redis-sentinel://h/m/x", "redis-sentinel://u@h/m"}) {
    SCOPED_TRACE(uri);
    StatusOr<RedisOptions> o = parseRedisUri(uri);
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(RedisUriTest, ParsesSentinelsMasterDbAndCredentials) {
  StatusOr<RedisOptions> o =
      parseRedisUri("redis-sentinel://alice:pw@s1.example:26380,10.0.0.2,[::1]:5000/orders/3");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->sentinels,
            (std::vector<RedisAddress>{{"s1.example", 26380}, {"10.0.0.2", 26379}, {"::1", 5000}}));
  EXPECT_EQ(o->master_name, "orders");
  EXPECT_EQ(o->db, 3);
  EXPECT_EQ(o->username, "alice");  // the master's AUTH, not the Sentinels'
  EXPECT_EQ(o->password, "pw");
  EXPECT_TRUE(o->host.empty());

  o = parseRedisUri("redis-sentinel://127.0.0.1:26379/mymaster");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->sentinels, (std::vector<RedisAddress>{{"127.0.0.1", 26379}}));
  EXPECT_EQ(o->master_name, "mymaster");
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->password.empty());

  o = parseRedisUri("redis-sentinel://:secret@h/m/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->password, "secret");
  EXPECT_TRUE(o->username.empty());
  EXPECT_EQ(o->db, 0);
}

TEST(RedisUriTest, ParsesClusterSeeds) {
  StatusOr<RedisOptions> o = parseRedisUri("redis-cluster://u:p@10.0.0.1:7000,[::1]:7001,node-c");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->username, "u");
  EXPECT_EQ(o->password, "p");
  ASSERT_EQ(o->cluster_seeds.size(), 3u);
  EXPECT_EQ(o->cluster_seeds[0], (RedisAddress{"10.0.0.1", 7000}));
  EXPECT_EQ(o->cluster_seeds[1], (RedisAddress{"::1", 7001}));
  EXPECT_EQ(o->cluster_seeds[2], (RedisAddress{"node-c", 6379}));
  EXPECT_TRUE(o->sentinels.empty());
  EXPECT_EQ(o->db, 0);
  o = parseRedisUri("redis-cluster://h:7000/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->cluster_seeds.size(), 1u);
}

TEST(RedisUriTest, ErrorsNameTheProblem) {
  const struct {
    const char* uri;
    const char* message_part;
  } cases[] = {
      {"redis-sentinel://h:26379", "no master name"},
      {"redis-sentinel://h:26379,h2:99999/m", "sentinel \"h2:99999\""},
      {"redis-sentinel://h/m/two", "database must be a number"},
      {"redis://h:6379/x", "database must be a number"},
      {"memcached://h", "want redis://, redis-sentinel:// or redis-cluster://"},
      {"redis-cluster://h:1,h2:0", "node \"h2:0\""},
      {"redis-cluster://h:1/2", "database 0 only"},
      {"redis-cluster://", "no host"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.uri);
    StatusOr<RedisOptions> o = parseRedisUri(c.uri);
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.status().message().find(c.message_part), std::string::npos) << o.status().message();
    EXPECT_NE(o.status().message().find(c.uri), std::string::npos) << o.status().message();
  }
}

}  // namespace
}  // namespace dedup
