// Preset: everything the proxy knows about one kind of sender, taken from its
// public documentation: the key spec that names its messages, the profile
// that answers it without losing a message, and how long it keeps
// redelivering (a route whose TTL is shorter may let a late redelivery
// through, which start-up warns about), and how it signs its requests.
//
// The table is static and read-only: safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/profile.h"

namespace dedup {

struct Preset {
  std::string name;
  std::string key_spec;
  Profile profile;
  // The sender's documented retry horizon; unset when it does not retry by
  // itself (GitHub) or the horizon is the user's (Knative, Dapr).
  std::optional<std::chrono::hours> retry_horizon;
  std::string sender;  // "Stripe", for messages
  // The sender's signature scheme (signature_verifier.h); empty when it signs
  // in a way the proxy does not check. A route with this preset verifies
  // signatures as soon as it is given a secret file.
  std::string signature_scheme = {};
};

inline constexpr std::string_view kDefaultPreset = "idempotency-key";

// The preset called `name`, or nullptr.
const Preset* findPreset(std::string_view name);
const std::vector<Preset>& allPresets();
// "idempotency-key, gcp-pubsub, ...": for error messages.
std::string presetNames();

}  // namespace dedup
