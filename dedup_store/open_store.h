// Opens the store a URI names (DESIGN.md "Interfaces users see"):
//   rocksdb:PATH                         the embedded store (rocksdb_store.h)
//   redis://[user:pass@]host:port[/db]   the shared store (redis_store.h)
//   redis-sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db]
//                                        the shared store via Sentinel
// Thread-safety: a free function; call at start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

struct StoreOptions {
  std::string uri;  // e.g. "rocksdb:./dedup-data"
  // RocksDB block cache (LRU). Default 8 MiB.
  uint64_t block_cache_bytes = uint64_t{8} << 20;
  // RocksDB: each operation's deadline (RocksDbOptions::op_timeout).
  std::chrono::milliseconds store_timeout{5000};
  // Redis: key prefix and per-connection timeouts (see RedisOptions).
  std::string redis_prefix = "dedup:";
  std::chrono::milliseconds redis_connect_timeout{1000};
  std::chrono::milliseconds redis_command_timeout{1000};
};

// InvalidArgument naming the URI when it names no known store; otherwise
// whatever opening that store returns.
StatusOr<StoreBackendPtr> openStore(const StoreOptions& options);

}  // namespace dedup
