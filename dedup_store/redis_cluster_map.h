// What a Redis Cluster client must know of the cluster, as plain values: the
// slot of a key (CRC16/XMODEM of the key, or of its {hash tag}, mod 16384),
// the redirections a node answers with (MOVED, ASK), and which master serves
// each slot (from CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7).
// Thread-safety: free functions and a plain value type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "dedup_store/redis_uri.h"

struct redisReply;

namespace dedup {

constexpr int kClusterSlots = 16384;

// CRC16 with polynomial 0x1021, initial value 0, no reflection ("123456789"
// → 0x31C3), as the Redis Cluster spec names it.
uint16_t crc16Xmodem(std::string_view data);
// The slot of `key`: the text between the first '{' and the next '}' when
// that is not empty, else the whole key.
int clusterSlot(std::string_view key);

struct RedisRedirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  int slot = 0;
  RedisAddress address;
  bool operator==(const RedisRedirect&) const = default;
};
// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 [::1]:6381" → the redirection;
// nullopt for any other error text. An empty host (a node that does not know
// its own address) is `default_host`, the node that answered.
std::optional<RedisRedirect> parseRedirect(std::string_view error,
                                           const std::string& default_host = "");

// Which master serves each slot.
class ClusterSlotMap {
 public:
  ClusterSlotMap() { owner_.fill(kNone); }

  // The master of `slot`, or nullptr when no master serves it.
  const RedisAddress* masterOf(int slot) const;
  // [first, last] are served by `master`.
  void assign(int first, int last, const RedisAddress& master);
  // Every slot has a master.
  bool complete() const;
  const std::vector<RedisAddress>& masters() const { return masters_; }
  bool operator==(const ClusterSlotMap&) const = default;

 private:
  static constexpr uint16_t kNone = 0xffff;
  std::array<uint16_t, kClusterSlots> owner_;  // index into masters_, or kNone
  std::vector<RedisAddress> masters_;
};

// The reply of CLUSTER SHARDS (Redis >= 7), or of CLUSTER SLOTS. An empty
// node address is `default_host` (the node asked). Corruption when the reply
// has another shape; an incomplete map is not an error here.
StatusOr<ClusterSlotMap> parseClusterShards(const redisReply* reply,
                                            const std::string& default_host);
StatusOr<ClusterSlotMap> parseClusterSlots(const redisReply* reply,
                                           const std::string& default_host);

}  // namespace dedup
