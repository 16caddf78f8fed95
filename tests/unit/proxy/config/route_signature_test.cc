// Which scheme and secrets each route verifies with: its own `signature:`,
// the preset it chose, the top-level --signature, the top-level preset; and
// the config errors that keep a route from silently verifying nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "proxy/config/route_config_parse.h"
#include "proxy/config/route_table.h"

namespace dedup {
namespace {

class RouteSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/route-signature-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    secrets_ = dir_ + "/secrets";
    std::ofstream(secrets_) << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
  }
  void TearDown() override {
    std::remove(secrets_.c_str());
    rmdir(dir_.c_str());
  }

  Config withRoutes(const std::string& yaml) {
    Config config;
    const Status parsed = parseRoutes(YAML::Load(yaml), "test.yaml", config.routes);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString();
    return config;
  }
  // "scheme" of each route, "-" for none; or the error.
  std::string schemes(const Config& config) {
    auto table = buildRoutes(config);
    if (!table.ok()) return "error: " + table.status().message();
    std::string out;
    for (const auto& route : (*table)->routes()) {
      out += (out.empty() ? "" : " ") +
             (route->signature ? std::string(route->signature->scheme()) : std::string("-"));
    }
    return out;
  }

  std::string dir_;
  std::string secrets_;
};

TEST_F(RouteSignatureTest, TopLevelFlagsAndPresets) {
  Config config;
  EXPECT_EQ(schemes(config), "-");
  config.key = "stripe";
  EXPECT_EQ(schemes(config), "-") << "a preset's scheme waits for a secret file";
  config.signature_secret_file = secrets_;
  EXPECT_EQ(schemes(config), "stripe");
  config.signature = "standard-webhooks";
  EXPECT_EQ(schemes(config), "standard-webhooks");
  config.key = "header:X-Id";
  EXPECT_EQ(schemes(config), "standard-webhooks");
  config.signature.clear();
  EXPECT_NE(schemes(config).find("names no signature scheme"), std::string::npos);
  config.signature_secret_file.clear();
  config.signature = "github";
  EXPECT_NE(schemes(config).find("needs a secret file"), std::string::npos);
}

TEST_F(RouteSignatureTest, RoutesTakeTheirOwnThenThePresetThenTheTopLevel) {
  Config config = withRoutes(R"(
- name: own
  preset: github
  signature: {scheme: shopify, secret_file: )" +
                             secrets_ + R"(}
- name: preset
  preset: stripe
- name: top
  key: header:X-Id
- name: off
  preset: slack
  signature: none
)");
  config.signature_secret_file = secrets_;
  config.signature = "standard-webhooks";
  EXPECT_EQ(schemes(config), "shopify stripe standard-webhooks -");
  config.signature.clear();
  EXPECT_NE(schemes(config).find("routes (top) signature: a secret file is set but preset "
                                 "idempotency-key names no signature scheme"),
            std::string::npos)
      << schemes(config);
}

TEST_F(RouteSignatureTest, RoutesOfOneFileAndSchemeShareTheKeys) {
  Config config = withRoutes(R"(
- {name: a, match: {path_prefix: /a}, preset: stripe}
- {name: b, match: {path_prefix: /b}, preset: stripe}
- {name: c, match: {path_prefix: /c}, preset: standard-webhooks}
)");
  config.signature_secret_file = secrets_;
  auto table = buildRoutes(config);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  const auto& routes = (*table)->routes();
  EXPECT_EQ(routes[0]->signing_keys, routes[1]->signing_keys);
  EXPECT_NE(routes[0]->signing_keys, routes[2]->signing_keys) << "decoded differently";
  EXPECT_EQ((*table)->signingKeyFiles().size(), 2u);
  // Stripe uses the secret as written; Standard Webhooks its base64 bytes.
  EXPECT_EQ(routes[0]->signing_keys->keys()->front(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  EXPECT_EQ(routes[2]->signing_keys->keys()->front().size(), 24u);
  EXPECT_TRUE(reloadSigningKeys(**table).ok());
}

TEST_F(RouteSignatureTest, ParseErrorsNameTheField) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"- {name: a, signature: {scheme: sns}}", "signature.scheme: must be one of stripe"},
      {"- {name: a, signature: {secret: x}}", "signature.secret: unknown field"},
      {"- {name: a, signature: {tolerance: soon}}", "signature.tolerance"},
      {"- {name: a, signature: {secret_file: ''}}", "signature.secret_file: must not be empty"},
      {"- {name: a, signature: off}", "must be 'none' or a map"},
  };
  for (const Case& c : cases) {
    std::vector<RouteConfig> routes;
    const Status parsed = parseRoutes(YAML::Load(c.yaml), "test.yaml", routes);
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_NE(parsed.message().find(c.error), std::string::npos) << parsed.message();
  }
}

}  // namespace
}  // namespace dedup
