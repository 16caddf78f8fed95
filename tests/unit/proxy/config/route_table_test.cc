// Routes from config to behaviour: YAML parsing (route_config_parse.h),
// building with presets and overrides, matching requests, and the warnings
// and description --check-config prints.
#include "proxy/config/route_table.h"

#include <gtest/gtest.h>

#include "proxy/config/route_config_parse.h"

namespace dedup {
namespace {

Config configWith(const std::string& yaml) {
  Config config;
  std::vector<RouteConfig> routes;
  const Status parsed = parseRoutes(YAML::Load(yaml), "test.yaml", routes);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString();
  config.routes = std::move(routes);
  return config;
}

std::string parseError(const std::string& yaml) {
  std::vector<RouteConfig> routes;
  const Status parsed = parseRoutes(YAML::Load(yaml), "test.yaml", routes);
  return parsed.ok() ? "" : parsed.message();
}

Request request(std::string method, std::string target, std::string host = "app") {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.add("Host", std::move(host));
  return r;
}

constexpr const char* kTwoRoutes = R"(
- name: stripe
  match: {path_prefix: /hooks/stripe}
  preset: stripe
  ttl: 4d
- name: pubsub
  match: {path: /push, methods: [POST], host: events.example.com}
  preset: gcp-pubsub
  scope: shared
  profile:
    in_flight: {status: 503, retry_after: 10s}
    store_error: forward
)";

TEST(RouteTable, FirstMatchingRouteWinsAndTheRestIsUnmatched) {
  auto table = buildRoutes(configWith(kTwoRoutes));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  const RouteTable& routes = **table;
  struct Case {
    Request request;
    std::string route;
  } cases[] = {
      {request("POST", "/hooks/stripe"), "stripe"},
      {request("POST", "/hooks/stripe/eu?x=1"), "stripe"},
      {request("POST", "/hooks/stripey"), "unmatched"},  // whole segments only
      {request("GET", "/hooks/stripe"), "unmatched"},    // POST, PUT, PATCH by default
      {request("POST", "/push", "events.example.com"), "pubsub"},
      {request("POST", "/push?token=1", "EVENTS.example.com:8080"), "pubsub"},
      {request("POST", "/push", "other.example.com"), "unmatched"},
      {request("POST", "/push/more", "events.example.com"), "unmatched"},  // exact path
      {request("PUT", "/push", "events.example.com"), "unmatched"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(routes.match(c.request).name, c.route) << c.request.method << " " << c.request.target;
  }
  EXPECT_FALSE(routes.unmatched().deduplicates(request("POST", "/x")));
  EXPECT_EQ(routes.fallback().name, "unmatched");
}

TEST(RouteTable, PresetsOverridesAndDefaultsCombine) {
  Config config = configWith(kTwoRoutes);
  config.ttl = std::chrono::hours(1);
  auto table = buildRoutes(config);
  ASSERT_TRUE(table.ok());
  const Route& stripe = *(*table)->find("stripe");
  EXPECT_EQ(stripe.extractor->spec(), "json:/id");
  EXPECT_EQ(stripe.scope, "stripe");
  EXPECT_EQ(stripe.ttl, std::chrono::hours(96));
  const Route& pubsub = *(*table)->find("pubsub");
  EXPECT_EQ(pubsub.scope, "shared");
  EXPECT_EQ(pubsub.ttl, std::chrono::hours(1)) << "the top-level ttl is the default";
  EXPECT_FALSE(pubsub.profile.fingerprint);
  EXPECT_EQ(pubsub.profile.in_flight.status, 503);
  EXPECT_EQ(pubsub.profile.in_flight.retry_after, std::chrono::seconds(10));
  EXPECT_TRUE(pubsub.store_error_forwards);
  EXPECT_FALSE(stripe.store_error_forwards);
  ASSERT_TRUE(pubsub.profile.duplicate.has_value());
  EXPECT_EQ(pubsub.profile.duplicate->status, 204);
}

TEST(RouteTable, WithoutRoutesOneDefaultRouteTakesEveryRequest) {
  Config config;
  config.key = "github";  // a preset name as the key
  auto table = buildRoutes(config);
  ASSERT_TRUE(table.ok());
  const RouteTable& routes = **table;
  EXPECT_EQ(routes.match(request("GET", "/anything")).name, "default");
  EXPECT_EQ(routes.fallback().name, "default");
  const Route& route = routes.match(request("POST", "/x"));
  EXPECT_EQ(route.preset, "github");
  EXPECT_EQ(route.extractor->spec(), "header:X-GitHub-Delivery");
  EXPECT_TRUE(route.deduplicates(request("POST", "/x")));
  EXPECT_FALSE(route.deduplicates(request("GET", "/x")));
}

TEST(RouteTable, AKeyOverridesThePresetsSpecButKeepsItsProfile) {
  auto table = buildRoutes(configWith(R"(
- name: dapr
  preset: dapr
  key: header:X-Message-Id
)"));
  ASSERT_TRUE(table.ok());
  const Route& route = *(*table)->find("dapr");
  EXPECT_EQ(route.extractor->spec(), "header:X-Message-Id");
  EXPECT_EQ(route.profile.in_flight.status, 200);
}

TEST(RouteTable, BuildErrorsNameTheRouteAndTheValue) {
  auto unknown = buildRoutes(configWith("- {name: a, preset: sendgrid}"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("routes (a) preset: unknown preset 'sendgrid'"),
            std::string::npos);
  auto bad_key = buildRoutes(configWith("- {name: b, key: 'header:'}"));
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("routes (b) key"), std::string::npos);
}

TEST(RouteTable, ALeaseNotLongerThanTheUpstreamTimeoutIsRefused) {
  Config config = configWith("- {name: short, lease: 30s}");
  config.upstream_timeout = std::chrono::seconds(30);
  auto refused = buildRoutes(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("routes (short) lease: 30s is not longer than "
                                            "upstream_timeout 30s"),
            std::string::npos)
      << refused.status().message();

  Config top;
  top.lease = std::chrono::seconds(10);
  top.upstream_timeout = std::chrono::seconds(20);
  auto top_refused = buildRoutes(top);
  ASSERT_FALSE(top_refused.ok());
  EXPECT_EQ(top_refused.status().message().rfind("lease: 10s", 0), 0u)
      << top_refused.status().message();

  top.lease = std::chrono::seconds(21);
  EXPECT_TRUE(buildRoutes(top).ok());
  EXPECT_TRUE(buildRoutes(Config{}).ok()) << "the default lease is upstream_timeout + 5s";
}

TEST(RouteTable, WarnsWhenTheTtlEndsBeforeTheSenderStopsRetrying) {
  Config config = configWith(R"(
- {name: stripe, preset: stripe, ttl: 24h}
- {name: sns, preset: aws-sns, ttl: 2h}
- {name: github, preset: github, ttl: 1m}
)");
  auto table = buildRoutes(config);
  ASSERT_TRUE(table.ok());
  const std::vector<std::string> warnings = retryHorizonWarnings(**table);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(
      warnings[0].find("route stripe: ttl 1d is shorter than the retry horizon of Stripe (3d)"),
      std::string::npos)
      << warnings[0];
}

TEST(RouteTable, DescriptionShowsEveryEffectiveSetting) {
  auto table = buildRoutes(configWith(kTwoRoutes));
  ASSERT_TRUE(table.ok());
  const std::string text = describeRoutes(**table);
  for (const char* expected :
       {"route stripe\n", "  match: POST,PUT,PATCH /hooks/stripe (prefix), host any\n",
        "  key: json:/id\n", "  ttl: 4d\n", "route pubsub\n",
        "  match: POST /push (exact), host events.example.com\n", "  scope: shared\n",
        "  duplicate: 204 (no body)\n", "  in_flight: 503 (Retry-After 10s)\n",
        "  store_error: forwarded without dedup\n", "  mismatch: never (no fingerprint)\n",
        "unmatched requests: forwarded untouched, without dedup\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
  }
}

TEST(RouteTable, DescriptionShowsWaitModeAndReplayHeaders) {
  auto table = buildRoutes(configWith(R"(
- {name: api, lease: 40s, profile: {in_flight: wait, wait_timeout: 50s, replay_headers: [ETag]}}
- {name: plain}
)"));
  ASSERT_TRUE(table.ok());
  const std::string text = describeRoutes(**table);
  for (const char* expected : {"route api\n", "  in_flight: wait up to 40s, then 409\n",
                               "  replay_headers: ETag\n", "route plain\n  match"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
  }
  EXPECT_EQ(text.find("replay_headers: all but"), std::string::npos) << "defaults stay quiet";
}

TEST(RouteConfigParse, RejectsWhatTheYamlAloneShowsIsWrong) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"{name: a}", "must be a list of routes"},
      {"- {preset: stripe}", "routes[0] name: every route needs a name"},
      {"- {name: a}\n- {name: a}", "routes[1] (a) name: another route has this name"},
      {"- {name: 'a b'}", "routes[0] (a b) name: must be letters"},
      {"- {name: unmatched}", "not 'unmatched'"},
      {"- {name: a, colour: red}", "routes[0] (a) colour: unknown field"},
      {"- {name: a, match: {path: x}}", "match.path: must be a path starting with '/'"},
      {"- {name: a, match: {path: /a, path_prefix: /b}}", "either path or path_prefix"},
      {"- {name: a, match: {methods: [post]}}", "match.methods: must be upper-case"},
      {"- {name: a, match: {methods: POST}}", "match.methods: must be a list"},
      {"- {name: a, ttl: soon}", "routes[0] (a) ttl:"},
      {"- {name: a, ttl: 0}", "ttl: must be more than 0"},
      {"- {name: a, require_key: yes}", "require_key: must be true or false"},
      {"- {name: a, profile: {in_flight: {status: 99}}}",
       "profile.in_flight.status: must be an HTTP status from 200 to 599 ('99')"},
      {"- {name: a, profile: {mismatch: {retry_after: 1s}}}",
       "profile.mismatch.retry_after: unknown"},
      {"- {name: a, profile: {duplicate: again}}", "must be 'replay' or a map"},
      {"- {name: a, profile: {store_error: retry}}", "must be 'forward' or a map"},
      {"- {name: a, profile: {ack_statuses: []}}", "profile.ack_statuses: must be a list"},
      {"- {name: a, profile: {speed: fast}}", "profile.speed: unknown field"},
      {"- {name: a, profile: {in_flight: hold}}", "profile.in_flight: must be 'wait' or a map"},
      {"- {name: a, profile: {wait_timeout: 0}}", "profile.wait_timeout: must be more than 0"},
      {"- {name: a, profile: {replay_headers: some}}",
       "profile.replay_headers: must be 'all', 'none' or a list of header names ('some')"},
      {"- {name: a, profile: {replay_headers: ['Bad:Name']}}",
       "profile.replay_headers: must be a header name ('Bad:Name')"},
  };
  for (const Case& c : cases) {
    const std::string error = parseError(c.yaml);
    EXPECT_NE(error.find(c.error), std::string::npos) << c.yaml << "\n→ " << error;
    if (std::string(c.yaml).find("{name: a}") == std::string::npos) {
      EXPECT_NE(error.find("test.yaml"), std::string::npos) << error;
    }
  }
}

TEST(RouteConfigParse, ReadsEveryField) {
  std::vector<RouteConfig> routes;
  ASSERT_TRUE(parseRoutes(YAML::Load(R"(
- name: knative
  match: {path: /events, methods: [POST, PUT], host: broker.local}
  preset: knative
  key: cloudevents
  scope: events
  ttl: 2h
  lease: 40s
  require_key: true
  profile:
    fingerprint: false
    ack_statuses: [200, 202]
    duplicate: {status: 200, body: '{"dup":true}', content_type: application/json}
    mismatch: {status: 500}
    missing_key: {status: 422, body: ''}
    store_error: {status: 500, retry_after: 5s}
)"),
                          "test.yaml", routes)
                  .ok());
  ASSERT_EQ(routes.size(), 1u);
  const RouteConfig& r = routes[0];
  EXPECT_EQ(r.path, "/events");
  EXPECT_FALSE(r.path_is_prefix);
  EXPECT_EQ(r.methods, (std::vector<std::string>{"POST", "PUT"}));
  EXPECT_EQ(r.host, "broker.local");
  EXPECT_EQ(r.scope, "events");
  EXPECT_EQ(r.ttl, std::chrono::hours(2));
  EXPECT_EQ(r.lease, std::chrono::seconds(40));
  EXPECT_EQ(r.require_key, true);
  EXPECT_EQ(r.profile.fingerprint, false);
  EXPECT_EQ(r.profile.ack_statuses, (std::vector<int>{200, 202}));
  EXPECT_EQ(r.profile.duplicate.body, "{\"dup\":true}");
  EXPECT_EQ(r.profile.mismatch.status, 500);
  EXPECT_EQ(r.profile.missing_key.body, "");
  EXPECT_EQ(r.profile.store_error.retry_after, std::chrono::seconds(5));
  const Profile profile = applyOverride(Profile(), r.profile);
  ASSERT_TRUE(profile.duplicate.has_value());
  EXPECT_EQ(profile.duplicate->status, 200);
  EXPECT_EQ(profile.store_error_forwards, false);
  EXPECT_TRUE(profile.acknowledges(202));
  EXPECT_FALSE(profile.acknowledges(201));
}

TEST(RouteConfigParse, ReadsWaitModeAndReplayHeaders) {
  std::vector<RouteConfig> routes;
  ASSERT_TRUE(parseRoutes(YAML::Load(R"(
- name: api
  profile: {in_flight: wait, wait_timeout: 3s, replay_headers: [Location, etag]}
- name: all
  profile: {replay_headers: all, in_flight: {status: 429}}
- name: none
  profile: {replay_headers: none}
)"),
                          "test.yaml", routes)
                  .ok());
  ASSERT_EQ(routes.size(), 3u);
  const Profile api = applyOverride(Profile(), routes[0].profile);
  EXPECT_TRUE(api.in_flight_waits);
  EXPECT_EQ(api.wait_timeout, std::chrono::seconds(3));
  EXPECT_EQ(api.in_flight.status, 409) << "the answer after a wait is the profile's";
  EXPECT_EQ(api.replay_headers.mode, ReplayHeaders::Mode::kListed);
  EXPECT_TRUE(api.replay_headers.replays("ETag"));
  EXPECT_TRUE(api.replay_headers.replays("location"));
  EXPECT_FALSE(api.replay_headers.replays("X-Other"));
  const Profile all = applyOverride(Profile(), routes[1].profile);
  EXPECT_FALSE(all.in_flight_waits);
  EXPECT_EQ(all.in_flight.status, 429);
  EXPECT_TRUE(all.replay_headers.replays("Set-Cookie"));
  EXPECT_FALSE(all.replay_headers.replays("Date"));
  const Profile none = applyOverride(Profile(), routes[2].profile);
  EXPECT_FALSE(none.replay_headers.replays("Location"));
  const Profile defaults;
  EXPECT_FALSE(defaults.in_flight_waits);
  EXPECT_TRUE(defaults.replay_headers.replays("Location"));
  EXPECT_FALSE(defaults.replay_headers.replays("set-cookie"));
  EXPECT_FALSE(defaults.replay_headers.replays("Content-Length"));
}

}  // namespace
}  // namespace dedup
