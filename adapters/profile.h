// Profile: what one kind of sender must be told in each case the dedup store
// decides (duplicate, in flight, mismatch, missing key, store error), which
// app statuses it counts as an acknowledgement, and whether a payload
// fingerprint applies. Senders read status codes differently (SNS counts any
// 4xx as delivered, Dapr drops a message on 404, Pub/Sub acks only a few
// statuses), so each preset (preset.h) carries its own profile, and a route
// may override any part of it.
//
// Plain values: built at start-up, read-only afterwards, safe to share.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_message.h"

namespace dedup {

// One answer the proxy writes itself.
struct Answer {
  int status = 0;
  // The exact body; unset: an RFC 9457 problem+json body describing the case.
  std::optional<std::string> body;
  std::string content_type;  // with `body`; empty: no Content-Type
  // Retry-After for in-flight and store-error answers; unset: the store's
  // own estimate (in flight) or 1s (store error).
  std::optional<std::chrono::milliseconds> retry_after;
};

// Which of the app's response headers a committed key stores and its replays
// repeat. Whatever the mode, never: hop-by-hop headers, Content-Length (the
// proxy frames the body), Date (a replay gets a fresh one) and
// Idempotent-Replayed (the proxy's own); Content-Type is always kept.
struct ReplayHeaders {
  enum class Mode {
    kDefault,  // every end-to-end header but Set-Cookie (a session is not repeated)
    kAll,      // every end-to-end header, Set-Cookie too
    kNone,     // none (Content-Type only)
    kListed,   // only the `listed` names
  };
  Mode mode = Mode::kDefault;
  std::vector<std::string> listed;  // kListed: header names, any case

  bool replays(std::string_view name) const;
};

// "default", "all", "none" or the listed names, for --check-config.
std::string describeReplayHeaders(const ReplayHeaders& headers);

struct Profile {
  // Same key with a different body → the mismatch answer. Off for senders
  // whose redeliveries change the body (Pub/Sub's deliveryAttempt).
  bool fingerprint = true;
  // App statuses that acknowledge a delivery and commit its key; empty: any 2xx.
  std::vector<int> ack_statuses;
  // Duplicate of a committed key: unset replays the app's stored answer.
  std::optional<Answer> duplicate;
  Answer in_flight{409, std::nullopt, "", std::nullopt};
  Answer mismatch{422, std::nullopt, "", std::nullopt};
  Answer missing_key{400, std::nullopt, "", std::nullopt};
  Answer store_error{503, std::nullopt, "", std::nullopt};
  ReplayHeaders replay_headers;
  // `in_flight: wait`: a duplicate that arrives while the first copy is at
  // the app waits up to `wait_timeout` (never longer than the lease) for its
  // outcome: the committed answer replayed, or, if it failed, the next
  // attempt itself. Timeout, or too many waiters: the in_flight answer.
  bool in_flight_waits = false;
  std::chrono::milliseconds wait_timeout{std::chrono::seconds(5)};
  // Store error: forward without dedup instead of answering. Unset: the
  // process-wide --on-store-error policy.
  std::optional<bool> store_error_forwards;
  // Requests whose `bypass_header` has one of `bypass_values` are forwarded
  // untouched, never deduplicated (SNS subscription handshakes).
  std::string bypass_header;
  std::vector<std::string> bypass_values;

  bool acknowledges(int status) const;
  bool bypasses(const Request& request) const;
};

// A route's changes to its preset's profile; every field optional.
struct AnswerOverride {
  std::optional<int> status;
  std::optional<std::string> body;
  std::optional<std::string> content_type;
  std::optional<std::chrono::milliseconds> retry_after;
  bool empty() const { return !status && !body && !content_type && !retry_after; }
};

struct ProfileOverride {
  std::optional<bool> fingerprint;
  std::optional<std::vector<int>> ack_statuses;
  bool duplicate_replays = false;  // `duplicate: replay`
  AnswerOverride duplicate;
  AnswerOverride in_flight;
  std::optional<bool> in_flight_waits;  // `in_flight: wait`
  std::optional<std::chrono::milliseconds> wait_timeout;
  std::optional<ReplayHeaders> replay_headers;
  AnswerOverride mismatch;
  AnswerOverride missing_key;
  bool store_error_forwards = false;  // `store_error: forward`
  AnswerOverride store_error;
};

// `base` with `change` applied. A duplicate override without a status on a
// replaying profile answers 200.
Profile applyOverride(Profile base, const ProfileOverride& change);

// "replay", "204", "200 {\"status\":\"SUCCESS\"}": for --check-config.
std::string describeAnswer(const Answer& answer);

}  // namespace dedup
