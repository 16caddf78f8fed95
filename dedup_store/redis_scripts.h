// The Lua scripts that make each Redis store operation one atomic round trip
// (begin, commit, release), with the SHA-1 that EVALSHA names them by.
//
// Key value layouts (the scripts are the only writers):
//   lease      "L<attempt>:<token>:<deadline ms>:<fingerprint hex or empty>",
//              deadline compared with Redis TIME, PX lease + tail so the
//              attempt count survives the lease's expiry; the deadline is a
//              few seconds ahead and the holding worker renews it while the
//              app works (redis_worker_store.h), so a dead holder's lease
//              frees up in seconds;
//   released   "R<attempt>", PX the key's ttl: the app saw (or may have seen)
//              the message, the next begin is attempt + 1;
//   committed  redis_record.h, PX ttl.
// Every script touches KEYS[1] only, so each runs on one Redis Cluster slot.
// TIME before writes needs Redis >= 5 (scripts are replicated by effects).
// Thread-safety: immutable after construction; share freely.
#pragma once

#include <string>
#include <string_view>

namespace dedup {

struct RedisScript {
  std::string text;
  std::string sha;  // SHA-1 hex, what EVALSHA names
};

struct RedisScripts {
  RedisScripts();

  // KEYS[1] key; ARGV token, lease ms, lease tail ms, fingerprint hex (the
  // stored 16 bytes, redis_record.h; "": none)
  // → {0, attempt} new lease | {1, value} committed | {2, ms left} in flight.
  RedisScript begin;
  // KEYS[1] key; ARGV token, committed value (without fingerprint: the
  // lease's is spliced in, so any worker can commit), ttl ms
  // → 1 committed | 0 lease lost.
  RedisScript commit;
  // KEYS[1] key; ARGV token, ttl ms → 1 released (attempt kept) | 0 not held.
  RedisScript release;
  // KEYS[1] key; ARGV token, lease ms, lease tail ms → 1 renewed (deadline =
  // now + lease) | 0 not held (expired and taken over, or gone).
  RedisScript renew;
};

}  // namespace dedup
