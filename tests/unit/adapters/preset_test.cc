// Presets: each sender's key spec finds the key in a delivery shaped as the
// sender documents it, and each profile keeps the rules that stop a sender
// from dropping a message (SNS: no 4xx; Dapr: no 404; Pub/Sub: acks only).
#include "adapters/preset.h"

#include <gtest/gtest.h>

#include "adapters/signature_verifier.h"
#include "extractor_test_util.h"

namespace dedup {
namespace {

using testing::build;
using testing::Kind;
using testing::makeRequest;

const Preset& preset(std::string_view name) {
  const Preset* found = findPreset(name);
  EXPECT_NE(found, nullptr) << name;
  return *found;
}

TEST(Preset, EveryPresetFindsItsSendersKey) {
  struct Case {
    std::string preset;
    Request request;
    std::string key;
  } cases[] = {
      {"idempotency-key", makeRequest("/", {{"Idempotency-Key", "8e03978e"}}), "8e03978e"},
      {"gcp-pubsub",
       makeRequest("/push", {{"Content-Type", "application/json"}},
                   R"({"message":{"data":"SGVsbG8=","messageId":"2070443601311540",)"
                   R"("message_id":"2070443601311540","publishTime":"2021-02-26T19:13:55.749Z"},)"
                   R"("subscription":"projects/p/subscriptions/s","deliveryAttempt":3})"),
       "2070443601311540"},
      {"gcp-pubsub",  // the snake_case field alone
       makeRequest("/push", {}, R"({"message":{"message_id":"42"}})"), "42"},
      {"aws-sns",
       makeRequest("/sns",
                   {{"x-amz-sns-message-type", "Notification"},
                    {"x-amz-sns-message-id", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"}},
                   R"({"Type":"Notification"})"),
       "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"},
      {"stripe",
       makeRequest(
           "/stripe", {{"Stripe-Signature", "t=1492774577,v1=5257a869"}},
           R"({"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"charge.succeeded"})"),
       "evt_1NG8Du2eZvKYlo2CUI79vXWy"},
      {"github",
       makeRequest("/gh", {{"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"}}),
       "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
      {"standard-webhooks", makeRequest("/w", {{"webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}}),
       "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
      {"standard-webhooks", makeRequest("/w", {{"svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"}}),
       "msg_p5jXN8AQM9LWM0D4loKWxJek"},
      {"shopify",
       makeRequest("/s", {{"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
                          {"X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"}}),
       "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
      {"knative",
       makeRequest("/", {{"ce-specversion", "1.0"},
                         {"ce-id", "A234-1234-1234"},
                         {"ce-source", "/mycontext"},
                         {"ce-type", "com.example.someevent"}}),
       "/mycontext\nA234-1234-1234"},
      {"dapr",
       makeRequest("/orders", {{"Content-Type", "application/cloudevents+json"}},
                   R"({"specversion":"1.0","id":"5929aaac-a5e2-4ca1-859c-edfe73f11565",)"
                   R"("source":"checkout","type":"com.dapr.event.sent","data":{"orderId":1}})"),
       "5929aaac-a5e2-4ca1-859c-edfe73f11565"},
      {"dapr",  // raw payload: the id travels in ce-id
       makeRequest("/orders", {{"ce-id", "b1f7"}, {"Content-Type", "application/octet-stream"}},
                   std::string("\x00\x01\x02", 3)),
       "b1f7"},
  };
  for (const Case& c : cases) {
    KeyExtractorPtr extractor = build(preset(c.preset).key_spec);
    ASSERT_NE(extractor, nullptr);
    const ExtractedKey key = extractor->extract(c.request);
    EXPECT_EQ(key.kind, Kind::kFound) << c.preset << ": " << key.error;
    EXPECT_EQ(key.key, c.key) << c.preset;
  }
}

TEST(Preset, NoProfileAnswersWhatItsSenderWouldDrop) {
  const Profile& sns = preset("aws-sns").profile;
  for (const Answer* answer : {&sns.in_flight, &sns.mismatch, &sns.store_error}) {
    EXPECT_GE(answer->status, 500) << "SNS counts any 4xx as delivered";
  }
  for (const Preset& p : allPresets()) {
    for (const Answer* answer : {&p.profile.in_flight, &p.profile.store_error}) {
      EXPECT_NE(answer->status, 404) << p.name;
      EXPECT_FALSE(p.profile.acknowledges(answer->status) && !answer->body)
          << p.name << ": an in-flight or store-error answer the sender reads as done";
    }
  }
  const Profile& pubsub = preset("gcp-pubsub").profile;
  ASSERT_TRUE(pubsub.duplicate.has_value());
  EXPECT_TRUE(pubsub.acknowledges(pubsub.duplicate->status));
  EXPECT_FALSE(pubsub.acknowledges(203));
  EXPECT_FALSE(pubsub.acknowledges(pubsub.in_flight.status));
  EXPECT_FALSE(pubsub.fingerprint);
  EXPECT_FALSE(preset("stripe").profile.fingerprint) << "one evt_ id is one event";
  EXPECT_TRUE(preset("github").profile.fingerprint);
  const Profile& dapr = preset("dapr").profile;
  EXPECT_EQ(*dapr.in_flight.body, R"({"status":"RETRY"})");
  EXPECT_EQ(*dapr.duplicate->body, R"({"status":"SUCCESS"})");
  EXPECT_EQ(preset("knative").profile.duplicate->body, "");
}

TEST(Preset, SnsHandshakesBypassDedup) {
  const Profile& sns = preset("aws-sns").profile;
  for (const char* type : {"SubscriptionConfirmation", "UnsubscribeConfirmation"}) {
    EXPECT_TRUE(sns.bypasses(makeRequest("/", {{"x-amz-sns-message-type", type}}))) << type;
  }
  EXPECT_FALSE(sns.bypasses(makeRequest("/", {{"x-amz-sns-message-type", "Notification"}})));
  EXPECT_FALSE(preset("stripe").profile.bypasses(
      makeRequest("/", {{"x-amz-sns-message-type", "SubscriptionConfirmation"}})));
}

TEST(Preset, NamesAreListedAndUnknownOnesAreNotFound) {
  EXPECT_EQ(findPreset("sendgrid"), nullptr);
  EXPECT_EQ(allPresets().front().name, kDefaultPreset);
  EXPECT_EQ(presetNames(),
            "idempotency-key, gcp-pubsub, aws-sns, stripe, github, standard-webhooks, shopify, "
            "slack, knative, dapr");
  EXPECT_EQ(preset("stripe").retry_horizon, std::chrono::hours(72));
}

TEST(Preset, SignedSendersNameTheirScheme) {
  for (const char* name : {"stripe", "github", "standard-webhooks", "shopify", "slack"}) {
    const std::string& scheme = preset(name).signature_scheme;
    EXPECT_EQ(scheme, name);
    EXPECT_TRUE(makeSignatureVerifier(scheme, kDefaultSignatureTolerance).ok()) << name;
  }
  for (const char* name : {"idempotency-key", "gcp-pubsub", "aws-sns", "knative", "dapr"}) {
    EXPECT_EQ(preset(name).signature_scheme, "") << name << ": no HMAC scheme to check";
  }
}

TEST(Preset, SlackFindsTheEventId) {
  const ExtractedKey key =
      build(preset("slack").key_spec)
          ->extract(makeRequest(
              "/slack", {{"Content-Type", "application/json"}},
              R"({"token":"x","team_id":"T1","type":"event_callback","event_id":"Ev0PV52K21",)"
              R"("event":{"type":"app_mention"}})"));
  EXPECT_EQ(key.key, "Ev0PV52K21");
}

TEST(Profile, OverridesChangeOnlyWhatTheyName) {
  ProfileOverride change;
  change.duplicate.body = "";
  change.in_flight.status = 429;
  Profile profile = applyOverride(preset("stripe").profile, change);
  ASSERT_TRUE(profile.duplicate.has_value());
  EXPECT_EQ(profile.duplicate->status, 200) << "a fixed duplicate without a status answers 200";
  EXPECT_EQ(profile.in_flight.status, 429);
  EXPECT_EQ(profile.mismatch.status, 422);
  ProfileOverride replay;
  replay.duplicate_replays = true;
  EXPECT_FALSE(applyOverride(preset("knative").profile, replay).duplicate.has_value());
}

}  // namespace
}  // namespace dedup
