// The shared store: key state in Redis, so every replica sees every key
// (DESIGN.md "Choosing the store").
//
// Each worker's DedupStore owns one hiredis async connection on that worker's
// event_base, opened lazily on first use (attach() may run on another thread
// before the loop does). Every operation is one EVALSHA round trip of a Lua
// script, so each transition is atomic in Redis; a NOSCRIPT reply (after
// SCRIPT FLUSH or a restart) re-loads the script and retries once.
//
// One Redis key per message: prefix + hex(StoreKey). Its value is a lease
// ("L<attempt>:<token>:<deadline_ms>", PX lease + 7 days so the attempt count
// survives the lease's expiry; the deadline is compared with Redis TIME) or a
// committed record (redis_record.h, PX ttl).
//
// Failures: every command is timed out by our own timer (Timeout; the
// connection is then dropped); a dropped connection answers each pending
// operation once with Unavailable; the next use reconnects, with backoff
// (100 ms doubling to 2 s) after failed attempts, and fails fast with
// Unavailable until the backoff has passed.
//
// Thread-safety: the backend is thread-safe; each DedupStore is used on its
// loop's thread only; destroying it closes its connection and drops pending
// callbacks.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

struct RedisOptions {
  std::string host;
  int port = 6379;
  std::string username, password;  // AUTH [username] password when password is set
  int db = 0;
  std::string prefix = "dedup:";
  std::chrono::milliseconds connect_timeout{1000}, command_timeout{1000};
};

// redis://[user:pass@]host[:port][/db] (user may be empty: redis://:pass@h).
// rediss:// is refused: Debian's hiredis 0.14 has no TLS.
StatusOr<RedisOptions> parseRedisUri(std::string_view uri);

// Does not connect: workers connect on first use; healthy() turns false while
// the last connection attempt failed.
StatusOr<StoreBackendPtr> openRedisStore(const RedisOptions& options);

}  // namespace dedup
