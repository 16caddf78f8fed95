// What a Redis store URI names, and its parser (DESIGN.md "Interfaces users
// see"):
//   redis://[user:pass@]host[:port][/db]
//       one Redis server (port 6379 by default);
//   redis-sentinel://[user:pass@]host[:port][,host[:port]…]/MASTER[/db]
//       the master that these Sentinels (port 26379 by default) name MASTER,
//       asked again at every (re)connect, so a failover is followed. The
//       credentials are the master's AUTH; the Sentinels are asked without
//       AUTH (run them on a trusted network).
//   redis-cluster://[user:pass@]host[:port][,host[:port]…]
//       a Redis Cluster, found through these seed nodes (port 6379 by
//       default; the rest is discovered); database 0 only.
// rediss:// is refused: Debian's hiredis 0.14 has no TLS.
// Thread-safety: plain values and a free function.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dedup {

struct RedisAddress {
  std::string host;
  int port = 6379;
  bool operator==(const RedisAddress&) const = default;
};

struct RedisOptions {
  std::string host;  // redis://: the server; unused with Sentinel
  int port = 6379;
  // Sentinel mode when not empty: ask these for `master_name`'s address.
  std::vector<RedisAddress> sentinels;
  std::string master_name;
  // Cluster mode when not empty: the seed nodes.
  std::vector<RedisAddress> cluster_seeds;
  std::string username, password;  // AUTH [username] password when password is set
  int db = 0;
  std::string prefix = "dedup:";
  std::chrono::milliseconds connect_timeout{1000}, command_timeout{1000};
};

// redis://…, redis-sentinel://… or redis-cluster://… as above (user may be empty: redis://:pass@h).
// InvalidArgument quoting the URI and naming what is wrong.
StatusOr<RedisOptions> parseRedisUri(std::string_view uri);

}  // namespace dedup
