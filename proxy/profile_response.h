// The responses a route's profile (adapters/profile.h) asks for: its fixed
// answers, or the problem+json default when the profile gives no body.
#pragma once

#include <chrono>
#include <string_view>

#include "adapters/profile.h"
#include "common/http_message.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

// `answer`'s status and body; problem+json with `detail` when it has none.
Response profileResponse(const Answer& answer, std::string_view detail);
// The same, with Retry-After: the answer's own, else `retry_after` (≥ 1s).
Response profileRetryLater(const Answer& answer, std::string_view detail,
                           std::chrono::milliseconds retry_after);
// A duplicate of a committed key: the stored answer replayed, or the
// profile's fixed answer; both marked Idempotent-Replayed: true.
Response duplicateResponse(const Profile& profile, const StoredResponse& stored);

}  // namespace dedup
