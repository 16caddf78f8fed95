#include "proxy/local_response.h"

#include <cstdio>
#include <string>

#include "common/duration.h"

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
  response.headers.add("Retry-After", std::to_string(retryAfterSeconds(retry_after)));
  return response;
}

Response replayResponse(const StoredResponse& stored) {
  Response response;
  response.status = stored.status;
  if (!stored.content_type.empty()) response.headers.add("Content-Type", stored.content_type);
  for (const auto& [name, value] : stored.headers) response.headers.add(name, value);
  response.headers.add("Idempotent-Replayed", "true");
  response.headers.add("Date", httpDate(std::time(nullptr)));
  response.body = stored.body;
  return response;
}

std::string httpDate(std::time_t time) {
  std::tm tm{};
  gmtime_r(&time, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

}  // namespace dedup
