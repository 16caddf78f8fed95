#include "adapters/profile.h"

#include <algorithm>

namespace dedup {
namespace {

void applyAnswer(Answer& answer, const AnswerOverride& change) {
  if (change.status) answer.status = *change.status;
  if (change.body) answer.body = *change.body;
  if (change.content_type) answer.content_type = *change.content_type;
  if (change.retry_after) answer.retry_after = *change.retry_after;
}

}  // namespace

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
    text += " (Retry-After " + std::to_string((answer.retry_after->count() + 999) / 1000) + "s)";
  }
  return text;
}

}  // namespace dedup
