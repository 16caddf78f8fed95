#include "dedup_store/open_store.h"

#include <string_view>

#include "dedup_store/redis_store.h"
#include "dedup_store/rocksdb_store.h"

namespace dedup {

StatusOr<StoreBackendPtr> openStore(const StoreOptions& options) {
  const std::string_view uri = options.uri;
  if (uri.starts_with("rocksdb:")) {
    RocksDbOptions rocksdb;
    rocksdb.path = std::string(uri.substr(std::string_view("rocksdb:").size()));
    if (rocksdb.path.empty()) {
      return Status::InvalidArgument("store URI \"" + options.uri +
                                     "\": rocksdb needs a path (rocksdb:PATH)");
    }
    rocksdb.block_cache_bytes = options.block_cache_bytes;
    rocksdb.op_timeout = options.store_timeout;
    return openRocksDbStore(rocksdb);
  }
  if (uri.starts_with("redis://") || uri.starts_with("rediss://") ||
      uri.starts_with("redis-sentinel://") || uri.starts_with("redis-cluster://")) {
    StatusOr<RedisOptions> redis = parseRedisUri(uri);
    if (!redis.ok()) return redis.status();
    redis->prefix = options.redis_prefix;
    redis->connect_timeout = options.redis_connect_timeout;
    redis->command_timeout = options.redis_command_timeout;
    return openRedisStore(*redis);
  }
  return Status::InvalidArgument("store URI \"" + options.uri +
                                 "\": want rocksdb:PATH, redis://host:port, "
                                 "redis-sentinel://host:port/MASTER or "
                                 "redis-cluster://host:port[,host:port…]");
}

}  // namespace dedup
