#include "adapters/profile.h"

#include <algorithm>

#include "common/duration.h"

namespace dedup {
namespace {

void applyAnswer(Answer& answer, const AnswerOverride& change) {
  if (change.status) answer.status = *change.status;
  if (change.body) answer.body = *change.body;
  if (change.content_type) answer.content_type = *change.content_type;
  if (change.retry_after) answer.retry_after = *change.retry_after;
}

}  // namespace

bool ReplayHeaders::replays(std::string_view name) const {
  if (equalsIgnoreCase(name, "Date") || equalsIgnoreCase(name, "Content-Length") ||
      equalsIgnoreCase(name, "Idempotent-Replayed")) {
    return false;
  }
  switch (mode) {
    case Mode::kDefault:
      return !equalsIgnoreCase(name, "Set-Cookie");
    case Mode::kAll:
      return true;
    case Mode::kNone:
      return false;
    case Mode::kListed:
      return std::any_of(listed.begin(), listed.end(),
                         [&](const std::string& n) { return equalsIgnoreCase(n, name); });
  }
  return false;
}

std::string describeReplayHeaders(const ReplayHeaders& headers) {
  switch (headers.mode) {
    case ReplayHeaders::Mode::kDefault:
      return "all but Set-Cookie";
    case ReplayHeaders::Mode::kAll:
      return "all";
    case ReplayHeaders::Mode::kNone:
      return "none";
    case ReplayHeaders::Mode::kListed:
      break;
  }
  std::string text;
  for (const std::string& name : headers.listed) text += (text.empty() ? "" : ", ") + name;
  return text;
}

bool Profile::acknowledges(int status) const {
  if (ack_statuses.empty()) return status >= 200 && status < 300;
  return std::find(ack_statuses.begin(), ack_statuses.end(), status) != ack_statuses.end();
}

bool Profile::bypasses(const Request& request) const {
  if (bypass_header.empty()) return false;
  const std::string* value = request.headers.find(bypass_header);
  if (value == nullptr) return false;
  return std::find(bypass_values.begin(), bypass_values.end(), *value) != bypass_values.end();
}

Profile applyOverride(Profile base, const ProfileOverride& change) {
  if (change.fingerprint) base.fingerprint = *change.fingerprint;
  if (change.ack_statuses) base.ack_statuses = *change.ack_statuses;
  if (change.duplicate_replays) base.duplicate.reset();
  if (!change.duplicate.empty()) {
    if (!base.duplicate) base.duplicate = Answer{200, std::string(), "", std::nullopt};
    applyAnswer(*base.duplicate, change.duplicate);
  }
  applyAnswer(base.in_flight, change.in_flight);
  if (change.in_flight_waits) base.in_flight_waits = *change.in_flight_waits;
  if (change.wait_timeout) base.wait_timeout = *change.wait_timeout;
  if (change.replay_headers) base.replay_headers = *change.replay_headers;
  applyAnswer(base.mismatch, change.mismatch);
  applyAnswer(base.missing_key, change.missing_key);
  if (change.store_error_forwards) base.store_error_forwards = true;
  if (!change.store_error.empty()) {
    applyAnswer(base.store_error, change.store_error);
    if (!change.store_error_forwards) base.store_error_forwards = false;
  }
  return base;
}

std::string describeAnswer(const Answer& answer) {
  std::string text = std::to_string(answer.status);
  if (answer.body) text += answer.body->empty() ? " (no body)" : " " + *answer.body;
  if (answer.retry_after) {
    text += " (Retry-After " + std::to_string(retryAfterSeconds(*answer.retry_after)) + "s)";
  }
  return text;
}

}  // namespace dedup
