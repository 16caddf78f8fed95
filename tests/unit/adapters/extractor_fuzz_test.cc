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

TEST(KeyExtractorFuzz, RandomAndTruncatedInputsGiveWellFormedResults) {
  std::vector<KeyExtractorPtr> extractors;
  for (const char* spec :
       {"header:Idempotency-Key", "query:id", "json:/id", "json:/data/a~1b/m~0n/2/id", "json:/1",
        "body-sha256", "cloudevents", "header:X-Tenant+json:/id",
        "header:Idempotency-Key|query:id+json:/source|body-sha256"}) {
    extractors.push_back(build(spec));
    ASSERT_NE(extractors.back(), nullptr);
  }
  for (const Preset& preset : allPresets()) {  // every sender's key spec too
    extractors.push_back(build(preset.key_spec));
    ASSERT_NE(extractors.back(), nullptr) << preset.name;
  }
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
      const ExtractedKey first = extractor->extract(request);
      const ExtractedKey again = extractor->extract(request);
      EXPECT_EQ(first.kind, again.kind);
      EXPECT_EQ(first.key, again.key);
      EXPECT_EQ(first.error, again.error);
      ++kinds[first.kind];
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
      if (::testing::Test::HasFailure()) return;  // one report, not thousands
    }
  }
  // The inputs reach every outcome, so the checks above were exercised.
  EXPECT_GT(kinds[Kind::kFound], 100);
  EXPECT_GT(kinds[Kind::kMissing], 100);
  EXPECT_GT(kinds[Kind::kInvalid], 100);
}

}  // namespace
}  // namespace dedup::testing
