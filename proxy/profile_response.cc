#include "proxy/profile_response.h"

#include "common/duration.h"
#include "proxy/local_response.h"

namespace dedup {

Response profileResponse(const Answer& answer, std::string_view detail) {
  if (!answer.body) return problemResponse(answer.status, detail);
  Response response;
  response.status = answer.status;
  if (!answer.content_type.empty()) response.headers.add("Content-Type", answer.content_type);
  response.body = *answer.body;
  return response;
}

Response profileRetryLater(const Answer& answer, std::string_view detail,
                           std::chrono::milliseconds retry_after) {
  Response response = profileResponse(answer, detail);
  const std::chrono::milliseconds wait = answer.retry_after.value_or(retry_after);
  response.headers.add("Retry-After", std::to_string(retryAfterSeconds(wait)));
  return response;
}

Response duplicateResponse(const Profile& profile, const StoredResponse& stored) {
  if (!profile.duplicate) return replayResponse(stored);
  Response response = profileResponse(*profile.duplicate, "a duplicate of a delivered message");
  response.headers.add("Idempotent-Replayed", "true");
  return response;
}

}  // namespace dedup
