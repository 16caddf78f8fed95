// Feeds random, truncated and mutated requests to every extractor: no crash,
// no hang, and a well-formed, deterministic result every time.
#include <map>
#include <random>

#include "adapters/preset.h"
#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

constexpr int kIterations = 2000;

const char* const kSeeds[] = {
    R"({"id":"evt_1","source":"/s","specversion":"1.0","data":{"a/b":{"m~n":[1,"x",{"id":2}]}}})",
    R"([{"id":1},{"id":"2"},null,true,false,1.5e300,-0,18446744073709551616])",
    R"({"id":"a\u00e9\"\\\n","deep":[[[[[[[[[[{"id":"x"}]]]]]]]]]]})",
    R"({"message":{"data":"e30=","messageId":"136969","message_id":"136969"},"deliveryAttempt":2})",
};

std::string randomBytes(std::mt19937& rng, size_t max) {
  std::uniform_int_distribution<size_t> size(0, max);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(size(rng), '\0');
  for (char& c : out) c = static_cast<char>(byte(rng));
  return out;
}

// A seed document truncated, with a few bytes flipped, or pure noise.
std::string randomBody(std::mt19937& rng) {
  const std::string seed = kSeeds[rng() % std::size(kSeeds)];
  switch (rng() % 4) {
    case 0:
      return seed.substr(0, rng() % (seed.size() + 1));
    case 1: {
      std::string out = seed;
      for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
        out[rng() % out.size()] = static_cast<char>(rng() % 256);
      }
      return out;
    }
    case 2:
      return randomBytes(rng, 64);
    default:
      return seed;
  }
}

std::string randomText(std::mt19937& rng) {
  const char* const pieces[] = {"id", "=", "&", "%", "%2", "%41", "+", "x", "\n", "\x7f", "é"};
  std::string out;
  for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) out += pieces[rng() % 11];
  return rng() % 5 == 0 ? out + randomBytes(rng, 8) : out;
}

// One extractor of every spec kind, and every preset's key spec.
std::vector<KeyExtractorPtr> allExtractors() {
  std::vector<KeyExtractorPtr> extractors;
  for (const char* spec :
       {"header:Idempotency-Key", "query:id", "json:/id", "json:/data/a~1b/m~0n/2/id", "json:/1",
        "body-sha256", "cloudevents", "header:X-Tenant+json:/id",
        "header:Idempotency-Key|query:id+json:/source|body-sha256"}) {
    extractors.push_back(build(spec));
  }
  for (const Preset& preset : allPresets()) extractors.push_back(build(preset.key_spec));
  return extractors;
}

// The result is well formed for its kind, and the same when asked again.
void expectWellFormed(const KeyExtractor& extractor, const Request& request, Kind* kind) {
  const ExtractedKey first = extractor.extract(request);
  const ExtractedKey again = extractor.extract(request);
  EXPECT_EQ(first.kind, again.kind);
  EXPECT_EQ(first.key, again.key);
  EXPECT_EQ(first.error, again.error);
  *kind = first.kind;
  switch (first.kind) {
    case Kind::kFound:
      EXPECT_FALSE(first.key.empty());
      EXPECT_LE(first.key.size(), kMaxKeyLength);
      EXPECT_TRUE(first.error.empty());
      break;
    case Kind::kMissing:
      EXPECT_TRUE(first.key.empty());
      EXPECT_TRUE(first.error.empty());
      break;
    case Kind::kInvalid:
      EXPECT_TRUE(first.key.empty());
      EXPECT_FALSE(first.error.empty());
      break;
  }
}

TEST(KeyExtractorFuzz, RandomAndTruncatedInputsGiveWellFormedResults) {
  std::vector<KeyExtractorPtr> extractors = allExtractors();
  for (const KeyExtractorPtr& extractor : extractors) ASSERT_NE(extractor, nullptr);
  std::map<Kind, int> kinds;
  std::mt19937 rng(20261123);
  const char* const content_types[] = {"application/json", "application/cloudevents+json",
                                       "application/cloudevents-batch+json", "text/plain"};
  for (int i = 0; i < kIterations; ++i) {
    Request request = makeRequest("/hook?" + randomText(rng), {}, randomBody(rng));
    request.headers.add("Content-Type", content_types[rng() % 4]);
    for (const char* name : {"Idempotency-Key", "X-Tenant", "ce-id", "ce-source",
                             "x-amz-sns-message-id", "X-GitHub-Delivery", "webhook-id", "svix-id",
                             "X-Shopify-Webhook-Id", "X-Shopify-Event-Id"}) {
      if (rng() % 3 != 0) request.headers.add(name, randomText(rng));
    }
    for (const KeyExtractorPtr& extractor : extractors) {
      SCOPED_TRACE(extractor->spec() + " iteration " + std::to_string(i));
      Kind kind;
      expectWellFormed(*extractor, request, &kind);
      ++kinds[kind];
      if (::testing::Test::HasFailure()) return;  // one report, not thousands
    }
  }
  // The inputs reach every outcome, so the checks above were exercised.
  EXPECT_GT(kinds[Kind::kFound], 100);
  EXPECT_GT(kinds[Kind::kMissing], 100);
  EXPECT_GT(kinds[Kind::kInvalid], 100);
}

// Deliveries shaped as the senders send them, cut after every byte: a body
// that ends early (a sender or a proxy in between gave up) must never crash
// or hang an extractor, whatever the Content-Type says the body is.
TEST(KeyExtractorFuzz, EveryTruncationOfSenderShapedBodies) {
  const std::string long_id(kMaxKeyLength + 40, 'i');  // over the limit, then cut below it
  const std::string bodies[] = {
      // CloudEvents structured mode (Dapr's envelope).
      R"({"specversion":"1.0","type":"com.dapr.event.sent","source":"checkout",)"
      R"("id":"5929aaac-a5e2-4ca1-859c-edfe73f11565","datacontenttype":"application/json",)"
      R"("data":{"orderId":100},"topic":"orders","pubsubname":"orderpubsub"})",
      // CloudEvents batch mode: an array of structured events.
      R"([{"specversion":"1.0","id":"a-1","source":"/s","type":"t"},)"
      R"({"specversion":"1.0","id":"a-2","source":"/s","type":"t","data":"\u00e9"}])",
      // A Pub/Sub push envelope.
      R"({"message":{"attributes":{"k":"v"},"data":"SGVsbG8=","messageId":"2070443601311540",)"
      R"("message_id":"2070443601311540"},"subscription":"projects/p/subscriptions/s",)"
      R"("deliveryAttempt":2})",
      // A Stripe event.
      R"({"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","data":{"object":{"id":"pi_1"}},)"
      R"("type":"payment_intent.succeeded"})",
      // Ids as numbers, escapes, and an id longer than a key may be.
      R"({"id":18446744073709551615,"source":"\ud83d\ude00\\\"/","data":[1.5e308,-0]})",
      R"({"id":")" + long_id + R"(","source":"/s"})",
  };
  const char* const content_types[] = {"application/json", "application/cloudevents+json",
                                       "application/cloudevents-batch+json; charset=utf-8",
                                       "application/octet-stream"};
  std::vector<KeyExtractorPtr> extractors = allExtractors();
  for (const KeyExtractorPtr& extractor : extractors) ASSERT_NE(extractor, nullptr);
  std::map<Kind, int> kinds;
  for (const std::string& body : bodies) {
    for (size_t length = 0; length <= body.size(); ++length) {
      for (const char* content_type : content_types) {
        Request request = makeRequest("/hook?id=q-1",
                                      {{"Content-Type", content_type},
                                       {"ce-id", "e-1"},
                                       {"ce-source", "/s"},
                                       {"Idempotency-Key", "k-1"},
                                       {"X-Tenant", "t-1"}},
                                      body.substr(0, length));
        for (const KeyExtractorPtr& extractor : extractors) {
          SCOPED_TRACE(extractor->spec() + " / " + content_type + " / " + std::to_string(length) +
                       " bytes of " + body.substr(0, 40));
          Kind kind;
          expectWellFormed(*extractor, request, &kind);
          ++kinds[kind];
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
  EXPECT_GT(kinds[Kind::kFound], 100);
  EXPECT_GT(kinds[Kind::kMissing], 100);
  EXPECT_GT(kinds[Kind::kInvalid], 100);

  // Batch mode is refused as such, not read as one event or as garbage.
  const ExtractedKey batch =
      build("cloudevents")
          ->extract(makeRequest("/", {{"Content-Type", "application/cloudevents-batch+json"}},
                                std::string(bodies[1])));
  EXPECT_EQ(batch.kind, Kind::kInvalid);
  EXPECT_NE(batch.error.find("batch"), std::string::npos) << batch.error;
}

}  // namespace
}  // namespace dedup::testing
