#include "adapters/preset.h"

namespace dedup {
namespace {

using std::chrono::hours;

Answer status(int code) { return Answer{code, std::nullopt, "", std::nullopt}; }

Answer exactly(int code, std::string body, std::string content_type) {
  return Answer{code, std::move(body), std::move(content_type), std::nullopt};
}

std::vector<Preset> makePresets() {
  std::vector<Preset> presets;

  // IETF draft-ietf-httpapi-idempotency-key-header: 409 while in flight, 422
  // for a reused key with another payload, the stored answer replayed.
  presets.push_back({"idempotency-key", "header:Idempotency-Key", Profile(), std::nullopt,
                     "an Idempotency-Key client"});

  // Pub/Sub push acks 102, 200, 201, 202 and 204 only, and redelivers for 7
  // days (the longest retention). A redelivery may carry a new
  // deliveryAttempt in the body, so no fingerprint.
  Profile pubsub;
  pubsub.fingerprint = false;
  pubsub.ack_statuses = {200, 201, 202, 204};
  pubsub.duplicate = exactly(204, "", "");
  presets.push_back({"gcp-pubsub", "json:/message/messageId|json:/message/message_id", pubsub,
                     hours(7 * 24), "Google Pub/Sub"});

  // SNS counts every 4xx as delivered and drops the message, so nothing that
  // should be retried may be a 4xx. Subscription handshakes are forwarded
  // every time: the app must confirm them itself.
  Profile sns;
  sns.in_flight = status(503);
  sns.mismatch = status(500);
  sns.bypass_header = "x-amz-sns-message-type";
  sns.bypass_values = {"SubscriptionConfirmation", "UnsubscribeConfirmation"};
  presets.push_back({"aws-sns", "header:x-amz-sns-message-id", sns, hours(1), "AWS SNS"});

  // Stripe retries for up to 3 days. An evt_ id names one event for good, and
  // a redelivery re-renders the Event object (a new Stripe-Signature, and
  // fields such as pending_webhooks may change), so a fingerprint could only
  // turn a true duplicate into a 422 that Stripe retries for days.
  Profile stripe;
  stripe.fingerprint = false;
  presets.push_back({"stripe", "json:/id", stripe, hours(72), "Stripe", "stripe"});

  // GitHub never redelivers by itself (only on a manual redelivery).
  presets.push_back(
      {"github", "header:X-GitHub-Delivery", Profile(), std::nullopt, "GitHub", "github"});

  presets.push_back({"standard-webhooks", "header:webhook-id|header:svix-id", Profile(), hours(75),
                     "Standard Webhooks", "standard-webhooks"});

  presets.push_back({"shopify", "header:X-Shopify-Webhook-Id|header:X-Shopify-Event-Id", Profile(),
                     hours(4), "Shopify", "shopify"});

  // Slack's Events API retries three times within an hour (after about 1
  // minute and 5 minutes) when not answered within 3 seconds, with the same
  // event_id; url_verification carries none and is forwarded.
  presets.push_back({"slack", "json:/event_id", Profile(), hours(1), "Slack", "slack"});

  // A Knative broker retries 429 and 5xx; a replayed body would be read as a
  // reply event, so a duplicate is a bare 202.
  Profile knative;
  knative.duplicate = exactly(202, "", "");
  knative.in_flight = status(429);
  presets.push_back({"knative", "cloudevents", knative, std::nullopt, "Knative"});

  // Dapr reads the status field of a 200 body: SUCCESS acks, RETRY retries;
  // a 404 would drop the message, so it is never sent.
  Profile dapr;
  dapr.duplicate = exactly(200, "{\"status\":\"SUCCESS\"}", "application/json");
  dapr.in_flight = exactly(200, "{\"status\":\"RETRY\"}", "application/json");
  presets.push_back({"dapr", "header:ce-id|json:/id", dapr, std::nullopt, "Dapr"});
  return presets;
}

}  // namespace

const std::vector<Preset>& allPresets() {
  static const std::vector<Preset> kPresets = makePresets();
  return kPresets;
}

const Preset* findPreset(std::string_view name) {
  for (const Preset& preset : allPresets()) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

std::string presetNames() {
  std::string names;
  for (const Preset& preset : allPresets()) names += (names.empty() ? "" : ", ") + preset.name;
  return names;
}

}  // namespace dedup
