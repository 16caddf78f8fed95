#include "dedup_store/redis_cluster_map.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

namespace dedup {
namespace {

std::string_view textOf(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return {r->str != nullptr ? r->str : "", r->len};
}

// An integer reply, or a string holding one.
std::optional<long long> numberOf(const redisReply* r) {
  if (r == nullptr) return std::nullopt;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  const std::string_view text = textOf(r);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool isArray(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ARRAY; }

// A RESP2 map: [name, value, name, value, …] → the value of `name`.
const redisReply* field(const redisReply* map, std::string_view name) {
  for (size_t i = 0; i + 1 < map->elements; i += 2) {
    if (textOf(map->element[i]) == name) return map->element[i + 1];
  }
  return nullptr;
}

bool validSlot(long long slot) { return slot >= 0 && slot < kClusterSlots; }

}  // namespace

uint16_t crc16Xmodem(std::string_view data) {
  uint16_t crc = 0;
  for (const char c : data) {
    crc ^= static_cast<uint16_t>(static_cast<uint8_t>(c)) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

int clusterSlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16Xmodem(key) % kClusterSlots;
}

std::optional<RedisRedirect> parseRedirect(std::string_view error,
                                           const std::string& default_host) {
  RedisRedirect redirect;
  if (error.starts_with("MOVED ")) {
    redirect.kind = RedisRedirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    redirect.kind = RedisRedirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view slot = error.substr(0, space);
  const auto [end, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), redirect.slot);
  if (ec != std::errc() || end != slot.data() + slot.size() || !validSlot(redirect.slot)) {
    return std::nullopt;
  }
  const std::string_view address = error.substr(space + 1);
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  const std::string_view port = address.substr(colon + 1);
  const auto [pend, pec] =
      std::from_chars(port.data(), port.data() + port.size(), redirect.address.port);
  if (pec != std::errc() || pend != port.data() + port.size() || redirect.address.port < 1 ||
      redirect.address.port > 65535) {
    return std::nullopt;
  }
  redirect.address.host = host.empty() ? default_host : std::string(host);
  if (redirect.address.host.empty()) return std::nullopt;
  return redirect;
}

const RedisAddress* ClusterSlotMap::masterOf(int slot) const {
  if (!validSlot(slot) || owner_[slot] == kNone) return nullptr;
  return &masters_[owner_[slot]];
}

void ClusterSlotMap::assign(int first, int last, const RedisAddress& master) {
  first = std::max(first, 0);
  last = std::min(last, kClusterSlots - 1);
  if (first > last) return;
  auto it = std::find(masters_.begin(), masters_.end(), master);
  const auto index = static_cast<uint16_t>(it - masters_.begin());
  if (it == masters_.end()) masters_.push_back(master);
  std::fill(owner_.begin() + first, owner_.begin() + last + 1, index);
}

bool ClusterSlotMap::complete() const {
  return std::none_of(owner_.begin(), owner_.end(), [](uint16_t o) { return o == kNone; });
}

StatusOr<ClusterSlotMap> parseClusterShards(const redisReply* reply,
                                            const std::string& default_host) {
  const Status bad = Status::Corruption("redis cluster: unexpected CLUSTER SHARDS reply");
  if (!isArray(reply)) return bad;
  ClusterSlotMap map;
  for (size_t s = 0; s < reply->elements; ++s) {
    const redisReply* shard = reply->element[s];
    if (!isArray(shard)) return bad;
    const redisReply* slots = field(shard, "slots");
    const redisReply* nodes = field(shard, "nodes");
    if (!isArray(slots) || !isArray(nodes) || slots->elements % 2 != 0) return bad;
    std::optional<RedisAddress> master;
    for (size_t n = 0; n < nodes->elements && !master; ++n) {
      const redisReply* node = nodes->element[n];
      if (!isArray(node)) return bad;
      if (textOf(field(node, "role")) != "master") continue;
      const std::string_view health = textOf(field(node, "health"));
      if (!health.empty() && health != "online") continue;
      std::string host(textOf(field(node, "ip")));
      if (host.empty() || host == "?") host = std::string(textOf(field(node, "endpoint")));
      if (host.empty() || host == "?") host = default_host;
      const std::optional<long long> port = numberOf(field(node, "port"));
      if (!port || *port < 1 || *port > 65535) continue;
      master = RedisAddress{host, static_cast<int>(*port)};
    }
    if (!master) continue;  // a shard without a healthy master serves nothing now
    for (size_t i = 0; i < slots->elements; i += 2) {
      const std::optional<long long> first = numberOf(slots->element[i]);
      const std::optional<long long> last = numberOf(slots->element[i + 1]);
      if (!first || !last || !validSlot(*first) || !validSlot(*last)) return bad;
      map.assign(static_cast<int>(*first), static_cast<int>(*last), *master);
    }
  }
  return map;
}

StatusOr<ClusterSlotMap> parseClusterSlots(const redisReply* reply,
                                           const std::string& default_host) {
  const Status bad = Status::Corruption("redis cluster: unexpected CLUSTER SLOTS reply");
  if (!isArray(reply)) return bad;
  ClusterSlotMap map;
  for (size_t r = 0; r < reply->elements; ++r) {
    const redisReply* range = reply->element[r];
    if (!isArray(range) || range->elements < 3 || !isArray(range->element[2]) ||
        range->element[2]->elements < 2) {
      return bad;
    }
    const std::optional<long long> first = numberOf(range->element[0]);
    const std::optional<long long> last = numberOf(range->element[1]);
    const redisReply* node = range->element[2];
    const std::optional<long long> port = numberOf(node->element[1]);
    if (!first || !last || !validSlot(*first) || !validSlot(*last) || !port || *port < 1 ||
        *port > 65535) {
      return bad;
    }
    std::string host(textOf(node->element[0]));
    if (host.empty() || host == "?") host = default_host;
    map.assign(static_cast<int>(*first), static_cast<int>(*last),
               RedisAddress{host, static_cast<int>(*port)});
  }
  return map;
}

}  // namespace dedup
