// Signature verifiers, one table per scheme. Expected MACs come from the
// providers' published examples where they publish one (GitHub's "Hello,
// World!" vector, Slack's slash-command example, the Standard Webhooks /
// Svix libraries' test message), otherwise from Python's hmac module (Stripe,
// Shopify, and every body holding all 256 byte values): never from the code
// under test.
#include "adapters/signature_verifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "extractor_test_util.h"

namespace dedup {
namespace {

using Result = SignatureCheck::Result;
using testing::makeRequest;

std::string allBytes() {
  std::string body;
  for (int i = 0; i < 256; ++i) body += static_cast<char>(i);
  return body;
}

struct Case {
  std::string name;
  Request request;
  int64_t now;
  Result result;
};

SignatureVerifierPtr verifier(std::string_view scheme) {
  StatusOr<SignatureVerifierPtr> made = makeSignatureVerifier(scheme, kDefaultSignatureTolerance);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return *made;
}

SigningKeys keysOf(const SignatureVerifier& v, std::vector<std::string> secrets) {
  SigningKeys keys;
  for (const std::string& secret : secrets) {
    StatusOr<std::string> key = v.signingKey(secret);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    keys.push_back(*key);
  }
  return keys;
}

void runCases(std::string_view scheme, const std::vector<std::string>& secrets,
              const std::vector<Case>& cases) {
  SignatureVerifierPtr v = verifier(scheme);
  ASSERT_NE(v, nullptr);
  const SigningKeys keys = keysOf(*v, secrets);
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(scheme) + " / " + c.name);
    const SignatureCheck check = v->verify(c.request, keys, c.now);
    EXPECT_EQ(signatureResultName(check.result), signatureResultName(c.result)) << check.detail;
    EXPECT_EQ(check.detail.empty(), c.result == Result::kValid) << check.detail;
    for (const std::string& secret : secrets) {
      EXPECT_EQ(check.detail.find(secret), std::string::npos) << "a secret in: " << check.detail;
    }
  }
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// --- github --------------------------------------------------------------

constexpr char kGithubSecret[] = "It's a Secret to Everybody";
constexpr char kGithubHex[] = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
constexpr char kGithubAllBytesHex[] =
    "90ae8863901131b841e8cf5c484806df703b082fc7b3292552308ec3f3696956";

Request github(std::string value, std::string body = "Hello, World!") {
  return makeRequest("/gh", {{"X-Hub-Signature-256", std::move(value)}}, std::move(body));
}

TEST(GithubSignature, Table) {
  const std::string good = std::string("sha256=") + kGithubHex;
  runCases(
      "github", {kGithubSecret},
      {
          {"docs vector", github(good), 0, Result::kValid},
          {"every byte value", github(std::string("sha256=") + kGithubAllBytesHex, allBytes()), 0,
           Result::kValid},
          {"upper-case hex is the same MAC", github("sha256=" + upper(kGithubHex)), 0,
           Result::kValid},
          {"lower-case name", makeRequest("/gh", {{"x-hub-signature-256", good}}, "Hello, World!"),
           0, Result::kValid},
          {"body changed", github(good, "Hello, World?"), 0, Result::kMismatch},
          {"one bit of the MAC flipped", github(good.substr(0, good.size() - 1) + "6"), 0,
           Result::kMismatch},
          {"no header", makeRequest("/gh", {}, "Hello, World!"), 0, Result::kMissing},
          {"SHA-1 header only", makeRequest("/gh", {{"X-Hub-Signature", "sha1=abc"}}), 0,
           Result::kMissing},
          {"no sha256= prefix", github(kGithubHex), 0, Result::kMalformed},
          {"prefix in upper case", github(std::string("SHA256=") + kGithubHex), 0,
           Result::kMalformed},
          {"63 hex digits", github(good.substr(0, good.size() - 1)), 0, Result::kMalformed},
          {"65 hex digits", github(good + "0"), 0, Result::kMalformed},
          {"not hex", github("sha256=" + std::string(64, 'g')), 0, Result::kMalformed},
          {"empty value", github(""), 0, Result::kMalformed},
          {"two headers",
           makeRequest("/gh", {{"X-Hub-Signature-256", good}, {"X-Hub-Signature-256", good}},
                       "Hello, World!"),
           0, Result::kMalformed},
      });
}

TEST(GithubSignature, AnySecretOfTheFilePasses) {
  const std::string good = std::string("sha256=") + kGithubHex;
  runCases("github", {"the new secret", kGithubSecret},
           {{"second line", github(good), 0, Result::kValid}});
  runCases("github", {"the new secret"}, {{"old secret gone", github(good), 0, Result::kMismatch}});
}

// --- shopify -------------------------------------------------------------

Request shopify(std::string value, std::string body = R"({"id":820982911946154508})") {
  return makeRequest("/s", {{"X-Shopify-Hmac-Sha256", std::move(value)}}, std::move(body));
}

TEST(ShopifySignature, Table) {
  const std::string good = "qBvrsZF7RfB1iS6BX6IHqJTp5L911P7intnPeTPsH0I=";
  std::string flipped_case = good;
  flipped_case[0] = 'Q';
  runCases(
      "shopify", {"hush"},
      {
          {"python hmac", shopify(good), 0, Result::kValid},
          {"every byte value", shopify("gKlNA7mEX0pm0mBIt8Ba3wT8Ygeq/keY3nxGhvY17h0=", allBytes()),
           0, Result::kValid},
          {"base64 is case-sensitive", shopify(flipped_case), 0, Result::kMismatch},
          {"body changed", shopify(good, R"({"id":820982911946154509})"), 0, Result::kMismatch},
          {"empty body", shopify(good, ""), 0, Result::kMismatch},
          {"no header", makeRequest("/s", {}, "{}"), 0, Result::kMissing},
          {"no padding", shopify(good.substr(0, good.size() - 1)), 0, Result::kMalformed},
          {"hex instead of base64",
           shopify("a81bebb1917b45f075892e815fa207a894e9e4bf75d4fee29ed9cf7933ec1f42"), 0,
           Result::kMalformed},
          {"16 bytes", shopify("AAAAAAAAAAAAAAAAAAAAAA=="), 0, Result::kMalformed},
          {"url-safe alphabet", shopify("qBvrsZF7RfB1iS6BX6IHqJTp5L911P7intnPeTPsH0I_"), 0,
           Result::kMalformed},
      });
}

// --- stripe --------------------------------------------------------------

constexpr char kStripeSecret[] = "whsec_test_secret";
constexpr char kStripeBody[] = R"({"id":"evt_test","object":"event"})";
constexpr char kStripeV1[] = "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724";
constexpr int64_t kStripeTime = 1700000000;

Request stripe(std::string value, std::string body = kStripeBody) {
  return makeRequest("/stripe", {{"Stripe-Signature", std::move(value)}}, std::move(body));
}

TEST(StripeSignature, Table) {
  const std::string t = "t=1700000000";
  const std::string v1 = std::string("v1=") + kStripeV1;
  const std::string other = "v1=" + std::string(64, 'a');
  runCases(
      "stripe", {kStripeSecret},
      {
          {"python hmac", stripe(t + "," + v1), kStripeTime, Result::kValid},
          {"every byte value",
           stripe(t + ",v1=71c4a3552da3837bacdcde175392bc7b9abb161d894e156f289d61f9bb05d1ff",
                  allBytes()),
           kStripeTime, Result::kValid},
          {"v0 and a second v1 around it", stripe(t + "," + other + "," + v1 + ",v0=" + kStripeV1),
           kStripeTime, Result::kValid},
          {"spaces after commas", stripe(t + ", " + v1), kStripeTime, Result::kValid},
          {"timestamp last", stripe(v1 + "," + t), kStripeTime, Result::kValid},
          {"upper-case hex", stripe(t + ",v1=" + upper(kStripeV1)), kStripeTime, Result::kValid},
          {"300s old: still inside", stripe(t + "," + v1), kStripeTime + 300, Result::kValid},
          {"301s old: stale", stripe(t + "," + v1), kStripeTime + 301, Result::kStale},
          {"301s in the future: stale", stripe(t + "," + v1), kStripeTime - 301, Result::kStale},
          {"timestamp changed", stripe("t=1700000001," + v1), kStripeTime, Result::kMismatch},
          {"body changed", stripe(t + "," + v1, R"({"id":"evt_tesT","object":"event"})"),
           kStripeTime, Result::kMismatch},
          {"only the v0 matches", stripe(t + "," + other + ",v0=" + kStripeV1), kStripeTime,
           Result::kMismatch},
          {"forged and stale: mismatch first", stripe(t + "," + other), kStripeTime + 9999,
           Result::kMismatch},
          {"no header", makeRequest("/stripe", {}, kStripeBody), kStripeTime, Result::kMissing},
          {"no timestamp", stripe(v1), kStripeTime, Result::kMalformed},
          {"timestamp not a number", stripe("t=17e8," + v1), kStripeTime, Result::kMalformed},
          {"negative timestamp", stripe("t=-1," + v1), kStripeTime, Result::kMalformed},
          {"no v1", stripe(t + ",v0=" + kStripeV1), kStripeTime, Result::kMalformed},
          {"v1 of 63 digits", stripe(t + ",v1=" + std::string(kStripeV1).substr(1)), kStripeTime,
           Result::kMalformed},
          {"empty header", stripe(""), kStripeTime, Result::kMalformed},
          {"garbage", stripe(",,,==,"), kStripeTime, Result::kMalformed},
      });
}

TEST(StripeSignature, RotationAndTolerance) {
  const std::string header = std::string("t=1700000000,v1=") + kStripeV1;
  runCases("stripe", {"whsec_new", kStripeSecret},
           {{"old secret on the second line", stripe(header), kStripeTime, Result::kValid}});
  StatusOr<SignatureVerifierPtr> strict = makeSignatureVerifier("stripe", std::chrono::seconds(10));
  ASSERT_TRUE(strict.ok());
  EXPECT_EQ((*strict)->verify(stripe(header), {kStripeSecret}, kStripeTime + 10).result,
            Result::kValid);
  EXPECT_EQ((*strict)->verify(stripe(header), {kStripeSecret}, kStripeTime + 11).result,
            Result::kStale);
}

// --- slack ---------------------------------------------------------------

constexpr char kSlackSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr char kSlackBody[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
constexpr char kSlackV0[] = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
constexpr int64_t kSlackTime = 1531420618;

Request slack(std::string signature, std::string timestamp = "1531420618",
              std::string body = kSlackBody) {
  return makeRequest("/slack",
                     {{"X-Slack-Signature", std::move(signature)},
                      {"X-Slack-Request-Timestamp", std::move(timestamp)}},
                     std::move(body));
}

TEST(SlackSignature, Table) {
  runCases(
      "slack", {kSlackSecret},
      {
          {"docs example", slack(kSlackV0), kSlackTime, Result::kValid},
          {"every byte value",
           slack("v0=0e1d5a584420909603610eaf3d910eb239e13ab3dfa3534913d84c3e04714d4d",
                 "1531420618", allBytes()),
           kSlackTime, Result::kValid},
          {"upper-case hex", slack("v0=" + upper(std::string(kSlackV0).substr(3))), kSlackTime,
           Result::kValid},
          {"5 minutes late", slack(kSlackV0), kSlackTime + 300, Result::kValid},
          {"stale", slack(kSlackV0), kSlackTime + 301, Result::kStale},
          {"future", slack(kSlackV0), kSlackTime - 3600, Result::kStale},
          {"timestamp changed", slack(kSlackV0, "1531420619"), kSlackTime, Result::kMismatch},
          {"body changed", slack(kSlackV0, "1531420618", "token=x"), kSlackTime, Result::kMismatch},
          {"no signature",
           makeRequest("/slack", {{"X-Slack-Request-Timestamp", "1531420618"}}, kSlackBody),
           kSlackTime, Result::kMissing},
          {"no timestamp", makeRequest("/slack", {{"X-Slack-Signature", kSlackV0}}, kSlackBody),
           kSlackTime, Result::kMissing},
          {"v1= instead of v0=", slack("v1=" + std::string(kSlackV0).substr(3)), kSlackTime,
           Result::kMalformed},
          {"short", slack(std::string(kSlackV0).substr(0, 20)), kSlackTime, Result::kMalformed},
          {"timestamp in ms", slack(kSlackV0, "1531420618000x"), kSlackTime, Result::kMalformed},
      });
}

// --- standard-webhooks ---------------------------------------------------

constexpr char kStandardSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kStandardId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr char kStandardBody[] = R"({"test": 2432232314})";
constexpr char kStandardV1[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr int64_t kStandardTime = 1614265330;

Request standard(std::string signature, std::string body = kStandardBody,
                 std::string prefix = "webhook-", std::string timestamp = "1614265330") {
  return makeRequest("/w",
                     {{prefix + "id", kStandardId},
                      {prefix + "timestamp", std::move(timestamp)},
                      {prefix + "signature", std::move(signature)}},
                     std::move(body));
}

TEST(StandardWebhooksSignature, Table) {
  const std::string v1a = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZ";
  const std::string other = "v1," + std::string(43, 'A') + "=";
  std::string flipped_case = kStandardV1;
  flipped_case[3] = 'G';
  runCases(
      "standard-webhooks", {kStandardSecret},
      {
          {"library test vector", standard(kStandardV1), kStandardTime, Result::kValid},
          {"every byte value",
           standard("v1,sEcZ042G8Crqgxbybb3y0eDxQR3TcfYsk11I1XULhSI=", allBytes()), kStandardTime,
           Result::kValid},
          {"svix-* names", standard(kStandardV1, kStandardBody, "svix-"), kStandardTime,
           Result::kValid},
          {"several signatures, v1a ignored", standard(v1a + " " + other + " " + kStandardV1),
           kStandardTime, Result::kValid},
          {"stale", standard(kStandardV1), kStandardTime + 301, Result::kStale},
          {"future", standard(kStandardV1), kStandardTime - 301, Result::kStale},
          {"base64 is case-sensitive", standard(flipped_case), kStandardTime, Result::kMismatch},
          {"body changed", standard(kStandardV1, R"({"test": 2432232315})"), kStandardTime,
           Result::kMismatch},
          {"timestamp changed", standard(kStandardV1, kStandardBody, "webhook-", "1614265331"),
           kStandardTime, Result::kMismatch},
          {"only v1a", standard(v1a), kStandardTime, Result::kMalformed},
          {"no comma", standard("v1g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), kStandardTime,
           Result::kMalformed},
          {"truncated", standard(std::string(kStandardV1).substr(0, 20)), kStandardTime,
           Result::kMalformed},
          {"no headers", makeRequest("/w", {}, kStandardBody), kStandardTime, Result::kMissing},
          {"no id",
           makeRequest("/w",
                       {{"webhook-timestamp", "1614265330"}, {"webhook-signature", kStandardV1}},
                       kStandardBody),
           kStandardTime, Result::kMissing},
          {"mixed names: webhook-signature, svix-id",
           makeRequest("/w",
                       {{"svix-id", kStandardId},
                        {"webhook-timestamp", "1614265330"},
                        {"webhook-signature", kStandardV1}},
                       kStandardBody),
           kStandardTime, Result::kMissing},
          {"timestamp not a number", standard(kStandardV1, kStandardBody, "webhook-", "soon"),
           kStandardTime, Result::kMalformed},
      });
}

TEST(StandardWebhooksSignature, SecretsAreBase64AfterTheirPrefix) {
  SignatureVerifierPtr v = verifier("standard-webhooks");
  StatusOr<std::string> with_prefix = v->signingKey(kStandardSecret);
  StatusOr<std::string> without = v->signingKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(with_prefix.ok() && without.ok());
  EXPECT_EQ(*with_prefix, *without);
  EXPECT_EQ(with_prefix->size(), 24u);
  for (const char* bad : {"whsec_", "whsec_not base64!", "whsec_abc"}) {
    StatusOr<std::string> key = v->signingKey(bad);
    ASSERT_FALSE(key.ok()) << bad;
    const std::string secret = std::string(bad).substr(6);
    if (!secret.empty()) {
      EXPECT_EQ(key.status().message().find(secret), std::string::npos) << "echoes the secret";
    }
  }
  // Rotation: either key passes.
  runCases("standard-webhooks", {"whsec_" + std::string("bmV3IHNlY3JldA=="), kStandardSecret},
           {{"old secret second", standard(kStandardV1), kStandardTime, Result::kValid}});
}

TEST(SignatureVerifier, UnknownSchemeNamesTheKnownOnes) {
  StatusOr<SignatureVerifierPtr> made = makeSignatureVerifier("sns", kDefaultSignatureTolerance);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("stripe, github, standard-webhooks, shopify, slack"),
            std::string::npos);
}

TEST(SignatureVerifier, NoKeysNothingPasses) {
  EXPECT_EQ(verifier("github")->verify(github(std::string("sha256=") + kGithubHex), {}, 0).result,
            Result::kMismatch);
}

}  // namespace
}  // namespace dedup
