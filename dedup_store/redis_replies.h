// Reads the replies of the Redis store's Lua scripts (redis_scripts.h) as
// store results. Redis error replies become Unavailable (the caller decides
// whether to reconnect); a reply of the wrong shape becomes Corruption.
// Thread-safety: free functions on values.
#pragma once

#include <string>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

struct redisReply;

namespace dedup {

// `token` is the lease the script was asked to take; `fp` the delivery's
// fingerprint (all zeros: none), compared with a committed record's.
StatusOr<BeginResult> parseBeginReply(const redisReply* reply, LeaseToken token,
                                      const Fingerprint& fp);
StatusOr<CommitOutcome> parseCommitReply(const redisReply* reply);
Status parseReleaseReply(const redisReply* reply);

// A string or error reply's text.
std::string redisReplyText(const redisReply* reply);

}  // namespace dedup
