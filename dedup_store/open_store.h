// Opens the store a URI names (DESIGN.md "Interfaces users see"):
//   rocksdb:PATH                         the embedded store (rocksdb_store.h)
//   redis://…, redis-sentinel://…        the shared store (not built yet)
// Thread-safety: a free function; call at start-up.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

struct StoreOptions {
  std::string uri;  // e.g. "rocksdb:./dedup-data"
  // RocksDB block cache (LRU). Default 8 MiB.
  uint64_t block_cache_bytes = uint64_t{8} << 20;
};

// InvalidArgument naming the URI when it names no known store; otherwise
// whatever opening that store returns.
StatusOr<StoreBackendPtr> openStore(const StoreOptions& options);

}  // namespace dedup
