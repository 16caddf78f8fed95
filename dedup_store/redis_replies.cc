#include "dedup_store/redis_replies.h"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "dedup_store/redis_record.h"

namespace dedup {
namespace {

bool isZero(const Fingerprint& fp) {
  return std::all_of(fp.begin(), fp.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string redisReplyText(const redisReply* reply) {
  return std::string(reply->str != nullptr ? reply->str : "", reply->len);
}

StatusOr<BeginResult> parseBeginReply(const redisReply* reply, LeaseToken token,
                                      const Fingerprint& fp) {
  if (reply->type == REDIS_REPLY_ERROR) {
    return Status::Unavailable("redis begin: " + redisReplyText(reply));
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER) {
    return Status::Corruption("redis begin: unexpected reply");
  }
  const redisReply* arg = reply->element[1];
  BeginResult result;
  switch (reply->element[0]->integer) {
    case 0:
      if (arg->type != REDIS_REPLY_INTEGER) break;
      result.outcome = BeginResult::Outcome::kNew;
      result.token = token;
      result.attempt = static_cast<uint32_t>(arg->integer);
      return result;
    case 1: {
      if (arg->type != REDIS_REPLY_STRING) break;
      StatusOr<RedisCommitted> record = decodeRedisCommitted({arg->str, arg->len});
      if (!record.ok()) return record.status();
      const Fingerprint stored = redisFingerprint(fp);  // both truncated alike
      if (!isZero(stored) && !isZero(record->fingerprint) && stored != record->fingerprint) {
        result.outcome = BeginResult::Outcome::kMismatch;
      } else {
        result.outcome = BeginResult::Outcome::kCommitted;
        result.response = std::move(record->response);
      }
      return result;
    }
    case 2:
      if (arg->type != REDIS_REPLY_INTEGER) break;
      result.outcome = BeginResult::Outcome::kInFlight;
      result.retry_after = std::chrono::milliseconds(std::max<long long>(arg->integer, 1));
      return result;
    default:
      break;
  }
  return Status::Corruption("redis begin: unexpected reply");
}

StatusOr<CommitOutcome> parseCommitReply(const redisReply* reply) {
  Status s = parseReleaseReply(reply);
  if (!s.ok()) return s;
  return reply->integer == 1 ? CommitOutcome::kCommitted : CommitOutcome::kLeaseLost;
}

Status parseReleaseReply(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR)
    return Status::Unavailable("redis: " + redisReplyText(reply));
  if (reply->type != REDIS_REPLY_INTEGER) return Status::Corruption("redis: unexpected reply");
  return Status::OK();
}

}  // namespace dedup
