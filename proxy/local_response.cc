#include "proxy/local_response.h"

#include <string>

namespace dedup {

Response problemResponse(int status, std::string_view detail) {
  Response response;
  response.status = status;
  response.headers.add("Content-Type", "application/problem+json");
  std::string body = "{\"status\":" + std::to_string(status) + ",\"title\":\"";
  body += reasonPhrase(status);
  body += "\",\"detail\":\"";
  for (char c : detail) {
    if (c == '"' || c == '\\') {
      body += '\\';
      body += c;
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      body += c;
    }
  }
  body += "\"}\n";
  response.body = std::move(body);
  return response;
}

Response retryLaterResponse(int status, std::string_view detail,
                            std::chrono::milliseconds retry_after) {
  Response response = problemResponse(status, detail);
  const auto seconds = std::max<int64_t>(1, (retry_after.count() + 999) / 1000);
  response.headers.add("Retry-After", std::to_string(seconds));
  return response;
}

Response replayResponse(const StoredResponse& stored) {
  Response response;
  response.status = stored.status;
  if (!stored.content_type.empty()) response.headers.add("Content-Type", stored.content_type);
  response.headers.add("Idempotent-Replayed", "true");
  response.body = stored.body;
  return response;
}

}  // namespace dedup
