// Responses the proxy writes itself (errors, 409s, replays), so every one
// has the same shape: an RFC 9457 problem+json body for errors.
#pragma once

#include <string_view>

#include "common/http_message.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

Response problemResponse(int status, std::string_view detail);
// 409 or 503 with Retry-After: seconds, at least 1.
Response retryLaterResponse(int status, std::string_view detail,
                            std::chrono::milliseconds retry_after);
// The stored answer of a committed key, marked Idempotent-Replayed: true.
Response replayResponse(const StoredResponse& stored);

}  // namespace dedup
