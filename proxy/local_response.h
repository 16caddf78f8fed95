// Responses the proxy writes itself (errors, 409s, replays), so every one
// has the same shape: an RFC 9457 problem+json body for errors.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "common/http_message.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

Response problemResponse(int status, std::string_view detail);
// 409 or 503 with Retry-After: seconds, at least 1.
Response retryLaterResponse(int status, std::string_view detail,
                            std::chrono::milliseconds retry_after);
// The stored answer of a committed key, marked Idempotent-Replayed: true,
// with its stored headers and a fresh Date.
Response replayResponse(const StoredResponse& stored);
// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string httpDate(std::time_t time);

}  // namespace dedup
