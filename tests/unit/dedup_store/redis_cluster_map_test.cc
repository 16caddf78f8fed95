// Redis Cluster as plain values: the slot of a key, the MOVED/ASK
// redirections, and the slot map read from CLUSTER SHARDS and CLUSTER SLOTS
// replies (built by hand here, as hiredis would hand them over).
#include "dedup_store/redis_cluster_map.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <deque>
#include <string>
#include <vector>

namespace dedup {
namespace {

TEST(ClusterSlotTest, Crc16MatchesTheSpecsTestVector) {
  EXPECT_EQ(crc16Xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16Xmodem(""), 0);
}

TEST(ClusterSlotTest, SlotsOfKnownKeys) {
  // Values as redis-server answers CLUSTER KEYSLOT.
  EXPECT_EQ(clusterSlot("foo"), 12182);
  EXPECT_EQ(clusterSlot("bar"), 5061);
  EXPECT_EQ(clusterSlot("123456789"), 0x31C3 % kClusterSlots);
}

TEST(ClusterSlotTest, HashTags) {
  EXPECT_EQ(clusterSlot("{user1000}.following"), clusterSlot("user1000"));
  EXPECT_EQ(clusterSlot("{user1000}.followers"), clusterSlot("{user1000}.following"));
  EXPECT_EQ(clusterSlot("foo{}{bar}"), clusterSlot("foo{}{bar}")) << "empty tag: whole key";
  EXPECT_NE(clusterSlot("foo{}{bar}"), clusterSlot("bar"));
  EXPECT_EQ(clusterSlot("foo{{bar}}zap"), clusterSlot("{bar"));
  EXPECT_EQ(clusterSlot("foo{bar}{zap}"), clusterSlot("bar"));
  EXPECT_EQ(clusterSlot("no{close"), clusterSlot("no{close")) << "no }: whole key";
  EXPECT_NE(clusterSlot("no{close"), clusterSlot("close"));
  const std::string binary("dedup:\x7b\x01\x7d\xff", 10);
  EXPECT_EQ(clusterSlot(binary), clusterSlot(std::string("\x01", 1)));
}

TEST(ClusterRedirectTest, ParsesMovedAndAsk) {
  EXPECT_EQ(parseRedirect("MOVED 3999 127.0.0.1:6381"),
            (RedisRedirect{RedisRedirect::Kind::kMoved, 3999, {"127.0.0.1", 6381}}));
  EXPECT_EQ(parseRedirect("ASK 0 [::1]:7000"),
            (RedisRedirect{RedisRedirect::Kind::kAsk, 0, {"::1", 7000}}));
  EXPECT_EQ(parseRedirect("MOVED 16383 :7001", "10.0.0.5"),
            (RedisRedirect{RedisRedirect::Kind::kMoved, 16383, {"10.0.0.5", 7001}}));
  EXPECT_EQ(parseRedirect("MOVED 12 redis-2.example:6379"),
            (RedisRedirect{RedisRedirect::Kind::kMoved, 12, {"redis-2.example", 6379}}));
}

TEST(ClusterRedirectTest, RejectsOtherErrors) {
  for (const char* text :
       {"ERR unknown command", "MOVED", "MOVED 3999", "MOVED x 1.2.3.4:5", "MOVED 16384 h:1",
        "MOVED -1 h:1", "ASK 1 h", "ASK 1 h:0", "ASK 1 h:99999", "MOVED 1 :7001", "TRYAGAIN",
        "CLUSTERDOWN The cluster is down", "NOSCRIPT No matching script"}) {
    EXPECT_EQ(parseRedirect(text), std::nullopt) << text;
  }
}

TEST(ClusterSlotMapTest, AssignsAndReassigns) {
  ClusterSlotMap map;
  EXPECT_FALSE(map.complete());
  EXPECT_EQ(map.masterOf(0), nullptr);
  map.assign(0, 8191, {"a", 1});
  map.assign(8192, 16383, {"b", 2});
  EXPECT_TRUE(map.complete());
  EXPECT_EQ(*map.masterOf(8191), (RedisAddress{"a", 1}));
  EXPECT_EQ(*map.masterOf(8192), (RedisAddress{"b", 2}));
  map.assign(100, 100, {"b", 2});  // a MOVED
  EXPECT_EQ(*map.masterOf(100), (RedisAddress{"b", 2}));
  EXPECT_EQ(*map.masterOf(101), (RedisAddress{"a", 1}));
  EXPECT_EQ(map.masters().size(), 2u);
  EXPECT_EQ(map.masterOf(-1), nullptr);
  EXPECT_EQ(map.masterOf(kClusterSlots), nullptr);
}

// Builds reply trees the way hiredis hands them over.
class Replies {
 public:
  redisReply* str(const std::string& s) {
    redisReply* r = make(REDIS_REPLY_STRING);
    strings_.push_back(s);
    r->str = strings_.back().data();
    r->len = s.size();
    return r;
  }
  redisReply* num(long long v) {
    redisReply* r = make(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
  }
  redisReply* arr(std::vector<redisReply*> elements) {
    redisReply* r = make(REDIS_REPLY_ARRAY);
    arrays_.push_back(std::move(elements));
    r->element = arrays_.back().data();
    r->elements = arrays_.back().size();
    return r;
  }
  redisReply* err(const std::string& s) {
    redisReply* r = str(s);
    r->type = REDIS_REPLY_ERROR;
    return r;
  }

 private:
  redisReply* make(int type) {
    replies_.emplace_back();
    replies_.back().type = type;
    return &replies_.back();
  }
  std::deque<redisReply> replies_;
  std::deque<std::string> strings_;
  std::deque<std::vector<redisReply*>> arrays_;
};

redisReply* node(Replies& r, const std::string& ip, long long port, const std::string& role,
                 const std::string& health) {
  return r.arr({r.str("id"), r.str("abc"), r.str("port"), r.num(port), r.str("ip"), r.str(ip),
                r.str("endpoint"), r.str(ip), r.str("role"), r.str(role), r.str("health"),
                r.str(health)});
}

TEST(ClusterShardsTest, ReadsTheOnlineMasterOfEachShard) {
  Replies r;
  redisReply* reply = r.arr({
      r.arr({r.str("slots"), r.arr({r.num(0), r.num(5460), r.num(10923), r.num(10923)}),
             r.str("nodes"),
             r.arr({node(r, "127.0.0.1", 7004, "replica", "online"),
                    node(r, "127.0.0.1", 7001, "master", "online")})}),
      r.arr({r.str("slots"), r.arr({r.num(5461), r.num(10922), r.num(10924), r.num(16383)}),
             r.str("nodes"),
             r.arr({node(r, "127.0.0.1", 7002, "master", "failed"),
                    node(r, "", 7005, "master", "online")})}),
      r.arr({r.str("slots"), r.arr({}), r.str("nodes"),
             r.arr({node(r, "127.0.0.1", 7003, "master", "online")})}),
  });
  StatusOr<ClusterSlotMap> map = parseClusterShards(reply, "10.1.1.1");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_TRUE(map->complete());
  EXPECT_EQ(*map->masterOf(0), (RedisAddress{"127.0.0.1", 7001}));
  EXPECT_EQ(*map->masterOf(10923), (RedisAddress{"127.0.0.1", 7001}));
  EXPECT_EQ(*map->masterOf(5461), (RedisAddress{"10.1.1.1", 7005})) << "empty ip: the node asked";
  EXPECT_EQ(*map->masterOf(16383), (RedisAddress{"10.1.1.1", 7005}));
  EXPECT_EQ(map->masters().size(), 2u) << "a master without slots serves nothing";
}

TEST(ClusterShardsTest, AShardWithoutAHealthyMasterLeavesAHole) {
  Replies r;
  redisReply* reply = r.arr({r.arr({r.str("slots"), r.arr({r.num(0), r.num(16383)}), r.str("nodes"),
                                    r.arr({node(r, "h", 1, "master", "failed")})})});
  StatusOr<ClusterSlotMap> map = parseClusterShards(reply, "");
  ASSERT_TRUE(map.ok());
  EXPECT_FALSE(map->complete());
  EXPECT_EQ(map->masterOf(0), nullptr);
}

TEST(ClusterShardsTest, RejectsOtherShapes) {
  Replies r;
  EXPECT_FALSE(parseClusterShards(r.err("ERR"), "").ok());
  EXPECT_FALSE(parseClusterShards(r.arr({r.num(1)}), "").ok());
  EXPECT_FALSE(
      parseClusterShards(
          r.arr({r.arr({r.str("slots"), r.arr({r.num(0)}), r.str("nodes"), r.arr({})})}), "")
          .ok());
  EXPECT_FALSE(parseClusterShards(
                   r.arr({r.arr({r.str("slots"), r.arr({r.num(0), r.num(99999)}), r.str("nodes"),
                                 r.arr({node(r, "h", 1, "master", "online")})})}),
                   "")
                   .ok());
}

TEST(ClusterSlotsTest, ReadsTheMasterOfEachRange) {
  Replies r;
  redisReply* reply = r.arr({
      r.arr({r.num(0), r.num(8191), r.arr({r.str("127.0.0.1"), r.num(7001), r.str("id1")}),
             r.arr({r.str("127.0.0.1"), r.num(7004), r.str("id4")})}),
      r.arr({r.num(8192), r.num(16383), r.arr({r.str(""), r.num(7002), r.str("id2")})}),
  });
  StatusOr<ClusterSlotMap> map = parseClusterSlots(reply, "10.0.0.9");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_TRUE(map->complete());
  EXPECT_EQ(*map->masterOf(8191), (RedisAddress{"127.0.0.1", 7001}));
  EXPECT_EQ(*map->masterOf(8192), (RedisAddress{"10.0.0.9", 7002}));
  EXPECT_FALSE(parseClusterSlots(r.arr({r.arr({r.num(0), r.num(1)})}), "").ok());
}

}  // namespace
}  // namespace dedup
