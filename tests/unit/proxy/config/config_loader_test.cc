#include "proxy/config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "proxy/config/config_parse.h"

namespace dedup {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kUpstream[] = "--upstream=http://127.0.0.1:3000";

StatusOr<ConfigResult> load(std::vector<std::string> flags, std::vector<std::string> env = {}) {
  flags.insert(flags.begin(), "dedup-proxy");
  return loadConfig(flags, env);
}

Config loadOk(std::vector<std::string> flags, std::vector<std::string> env = {}) {
  StatusOr<ConfigResult> result = load(std::move(flags), std::move(env));
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok()) return Config();
  EXPECT_EQ(result->kind, ConfigResult::Kind::kRun);
  return result->config;
}

std::string loadError(std::vector<std::string> flags, std::vector<std::string> env = {}) {
  StatusOr<ConfigResult> result = load(std::move(flags), std::move(env));
  if (result.ok()) return "(loaded without error)";
  EXPECT_EQ(result.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(result.status().message().find('\n'), std::string::npos);
  return result.status().message();
}

// A YAML file in the test's temp dir, removed when the test ends.
class YamlFile {
 public:
  explicit YamlFile(const std::string& contents) {
    path_ = testing::TempDir() + "dedup_config_XXXXXX.yaml";
    const int fd = mkstemps(path_.data(), 5);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~YamlFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadConfig, DefaultsWithOnlyUpstream) {
  const Config c = loadOk({kUpstream});
  EXPECT_EQ(c.upstream.host, "127.0.0.1");
  EXPECT_EQ(c.upstream.port, 3000);
  EXPECT_EQ(c.upstream.host_header, "127.0.0.1:3000");
  EXPECT_EQ(c.upstream_text, "http://127.0.0.1:3000");
  EXPECT_EQ(c.listen.toString(), "0.0.0.0:8080");
  EXPECT_EQ(c.admin.toString(), "0.0.0.0:9901");
  EXPECT_EQ(c.store, "rocksdb:./dedup-data");
  EXPECT_EQ(c.key, "header:Idempotency-Key");
  EXPECT_FALSE(c.require_key);
  EXPECT_EQ(c.ttl, hours(24));
  EXPECT_EQ(c.lease, milliseconds(0));
  EXPECT_EQ(c.effectiveLease(), seconds(35));
  EXPECT_EQ(c.upstream_timeout, seconds(30));
  EXPECT_EQ(c.upstream_timeout_policy, UpstreamTimeoutPolicy::kRelease);
  EXPECT_EQ(c.on_store_error, StoreErrorPolicy::kFailClosed);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.max_stored_body, 64u * 1024);
  EXPECT_EQ(c.max_header_bytes, 64u * 1024);
  EXPECT_EQ(c.max_body_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(c.header_timeout, seconds(10));
  EXPECT_EQ(c.idle_timeout, seconds(60));
  EXPECT_EQ(c.drain_timeout, seconds(20));
  EXPECT_EQ(c.upstream_max_connections, 64);
  EXPECT_EQ(c.body_timeout, seconds(30));
  EXPECT_EQ(c.max_connections, 4096);
  EXPECT_EQ(c.max_buffered_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(c.upstream_max_waiting, 1024);
  EXPECT_EQ(c.admin_max_connections, 64);
  EXPECT_EQ(c.admin_timeout, seconds(10));
  EXPECT_FALSE(c.admin_keys_remote);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "logfmt");
}

// Every setting, each given as a flag, an environment variable and a YAML key.
struct SettingCase {
  const char* key;  // YAML key; flag and variable follow from it
  const char* value;
  std::function<void(const Config&)> check;
};

const std::vector<SettingCase>& settingCases() {
  static const std::vector<SettingCase> cases = {
      {"upstream", "http://[::1]:4000/",
       [](const Config& c) {
         EXPECT_EQ(c.upstream.host, "::1");
         EXPECT_EQ(c.upstream.port, 4000);
         EXPECT_EQ(c.upstream.host_header, "[::1]:4000");
         EXPECT_EQ(c.upstream_text, "http://[::1]:4000/");
       }},
      {"listen", "127.0.0.1:18080",
       [](const Config& c) { EXPECT_EQ(c.listen.toString(), "127.0.0.1:18080"); }},
      {"admin", "[::1]:0", [](const Config& c) { EXPECT_EQ(c.admin.toString(), "[::1]:0"); }},
      {"store", "redis://localhost:6379/2",
       [](const Config& c) { EXPECT_EQ(c.store, "redis://localhost:6379/2"); }},
      {"key", "json:/id", [](const Config& c) { EXPECT_EQ(c.key, "json:/id"); }},
      {"require_key", "true", [](const Config& c) { EXPECT_TRUE(c.require_key); }},
      {"ttl", "7d", [](const Config& c) { EXPECT_EQ(c.ttl, hours(24 * 7)); }},
      {"lease", "90s", [](const Config& c) { EXPECT_EQ(c.effectiveLease(), seconds(90)); }},
      {"upstream_timeout", "1m",
       [](const Config& c) {
         EXPECT_EQ(c.upstream_timeout, minutes(1));
         EXPECT_EQ(c.effectiveLease(), seconds(65));
       }},
      {"upstream_timeout_policy", "hold",
       [](const Config& c) { EXPECT_EQ(c.upstream_timeout_policy, UpstreamTimeoutPolicy::kHold); }},
      {"on_store_error", "fail-open",
       [](const Config& c) { EXPECT_EQ(c.on_store_error, StoreErrorPolicy::kFailOpen); }},
      {"workers", "256", [](const Config& c) { EXPECT_EQ(c.workers, 256); }},
      {"max_stored_body", "1MiB", [](const Config& c) { EXPECT_EQ(c.max_stored_body, 1u << 20); }},
      {"max_header_size", "16KiB",
       [](const Config& c) { EXPECT_EQ(c.max_header_bytes, 16u << 10); }},
      {"max_body_size", "100", [](const Config& c) { EXPECT_EQ(c.max_body_bytes, 100u); }},
      {"header_timeout", "250ms",
       [](const Config& c) { EXPECT_EQ(c.header_timeout, milliseconds(250)); }},
      {"idle_timeout", "2m", [](const Config& c) { EXPECT_EQ(c.idle_timeout, minutes(2)); }},
      {"drain_timeout", "0s", [](const Config& c) { EXPECT_EQ(c.drain_timeout, milliseconds(0)); }},
      {"upstream_max_connections", "1",
       [](const Config& c) { EXPECT_EQ(c.upstream_max_connections, 1); }},
      {"body_timeout", "5s", [](const Config& c) { EXPECT_EQ(c.body_timeout, seconds(5)); }},
      {"max_connections", "100", [](const Config& c) { EXPECT_EQ(c.max_connections, 100); }},
      {"max_buffered", "32MiB",
       [](const Config& c) { EXPECT_EQ(c.max_buffered_bytes, 32u << 20); }},
      {"upstream_max_waiting", "10",
       [](const Config& c) { EXPECT_EQ(c.upstream_max_waiting, 10); }},
      {"admin_max_connections", "8",
       [](const Config& c) { EXPECT_EQ(c.admin_max_connections, 8); }},
      {"admin_timeout", "3s", [](const Config& c) { EXPECT_EQ(c.admin_timeout, seconds(3)); }},
      {"admin_keys_remote", "true", [](const Config& c) { EXPECT_TRUE(c.admin_keys_remote); }},
      {"log_level", "debug", [](const Config& c) { EXPECT_EQ(c.log_level, "debug"); }},
      {"log_format", "json", [](const Config& c) { EXPECT_EQ(c.log_format, "json"); }},
      {"signature", "standard-webhooks",
       [](const Config& c) { EXPECT_EQ(c.signature, "standard-webhooks"); }},
      {"signature_secret_file", "/etc/secrets/stripe",
       [](const Config& c) { EXPECT_EQ(c.signature_secret_file, "/etc/secrets/stripe"); }},
      {"signature_tolerance", "90s",
       [](const Config& c) { EXPECT_EQ(c.signature_tolerance, seconds(90)); }},
  };
  return cases;
}

std::string flagOf(std::string key) {
  for (char& ch : key) ch = ch == '_' ? '-' : ch;
  return "--" + key;
}

std::string envOf(std::string key) {
  for (char& ch : key) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return "DEDUP_PROXY_" + key;
}

TEST(LoadConfig, EachSettingAsFlag) {
  for (const SettingCase& c : settingCases()) {
    SCOPED_TRACE(c.key);
    // --require-key is a flag: its value can only follow "=".
    if (std::string(c.key) != "require_key" && std::string(c.key) != "admin_keys_remote")
      c.check(loadOk({kUpstream, flagOf(c.key), c.value}));
    c.check(loadOk({kUpstream, flagOf(c.key) + "=" + c.value}));
  }
}

TEST(LoadConfig, EachSettingAsEnvironmentVariable) {
  for (const SettingCase& c : settingCases()) {
    SCOPED_TRACE(c.key);
    // The first of two entries wins, as with getenv().
    c.check(loadOk({}, {envOf(c.key) + "=" + c.value, "HOME=/root",
                        "DEDUP_PROXY_UPSTREAM=http://127.0.0.1:3000"}));
  }
}

TEST(LoadConfig, EachSettingAsYamlKey) {
  for (const SettingCase& c : settingCases()) {
    SCOPED_TRACE(c.key);
    YamlFile file(std::string("upstream: http://127.0.0.1:3000\n") + c.key + ": \"" + c.value +
                  "\"\n");
    c.check(loadOk({"--config", file.path()}));
  }
}

TEST(LoadConfig, RequireKeyFlagForms) {
  EXPECT_TRUE(loadOk({kUpstream, "--require-key"}).require_key);
  EXPECT_TRUE(loadOk({kUpstream, "--require-key=true"}).require_key);
  EXPECT_FALSE(loadOk({kUpstream, "--require-key=false"}).require_key);
  EXPECT_FALSE(
      loadOk({kUpstream, "--require-key=false"}, {"DEDUP_PROXY_REQUIRE_KEY=true"}).require_key);
  EXPECT_FALSE(loadOk({kUpstream}, {"DEDUP_PROXY_REQUIRE_KEY=false"}).require_key);
  YamlFile file("require_key: true\n");
  EXPECT_TRUE(loadOk({kUpstream, "--config", file.path()}).require_key);
}

TEST(LoadConfig, YamlPlainIntegersAreSecondsAndBytes) {
  YamlFile file(
      "upstream: http://localhost:3000\n"
      "ttl: 90\n"
      "max_body_size: 2048\n"
      "workers: 3\n"
      "routes:\n"
      "  - name: github\n"
      "    match: {path_prefix: /hooks/github}\n"
      "    key: github\n");
  const Config c = loadOk({"--config", file.path()});
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].path, "/hooks/github");
  EXPECT_EQ(c.ttl, seconds(90));
  EXPECT_EQ(c.max_body_bytes, 2048u);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.upstream.host_header, "localhost:3000");
}

TEST(LoadConfig, EmptyYamlFileSetsNothing) {
  YamlFile file("# nothing yet\n");
  EXPECT_EQ(loadOk({kUpstream, "--config", file.path()}).ttl, hours(24));
}

TEST(LoadConfig, FlagsBeatEnvironmentBeatsFile) {
  YamlFile file(
      "upstream: http://127.0.0.1:1001\n"
      "ttl: 1h\n"
      "workers: 1\n"
      "log_level: debug\n"
      "store: rocksdb:/from-file\n");
  const std::vector<std::string> env = {"DEDUP_PROXY_UPSTREAM=http://127.0.0.1:1002",
                                        "DEDUP_PROXY_TTL=2h", "DEDUP_PROXY_WORKERS=2",
                                        "DEDUP_PROXY_CONFIG=" + file.path()};

  const Config file_and_env = loadOk({}, env);
  EXPECT_EQ(file_and_env.upstream.port, 1002);
  EXPECT_EQ(file_and_env.ttl, hours(2));
  EXPECT_EQ(file_and_env.workers, 2);
  EXPECT_EQ(file_and_env.log_level, "debug");  // only in the file
  EXPECT_EQ(file_and_env.store, "rocksdb:/from-file");

  const Config all = loadOk({"--upstream", "http://127.0.0.1:1003", "--ttl", "3h"}, env);
  EXPECT_EQ(all.upstream.port, 1003);
  EXPECT_EQ(all.ttl, hours(3));
  EXPECT_EQ(all.workers, 2);  // no flag: env
  EXPECT_EQ(all.log_level, "debug");

  const Config file_only = loadOk({"--config", file.path()});
  EXPECT_EQ(file_only.upstream.port, 1001);
  EXPECT_EQ(file_only.ttl, hours(1));
  EXPECT_EQ(file_only.workers, 1);
}

TEST(LoadConfig, OverriddenBadValueIsNotAnError) {
  YamlFile file("ttl: soon\n");
  EXPECT_EQ(loadOk({kUpstream, "--config", file.path()}, {"DEDUP_PROXY_TTL=1h"}).ttl, hours(1));
  EXPECT_EQ(loadOk({kUpstream, "--ttl", "2h"}, {"DEDUP_PROXY_TTL=soon"}).ttl, hours(2));
}

TEST(LoadConfig, LastRepeatedFlagWins) {
  EXPECT_EQ(loadOk({kUpstream, "--ttl", "1h", "--ttl", "2h"}).ttl, hours(2));
}

TEST(LoadConfig, ConfigFlagBeatsConfigVariable) {
  YamlFile flag_file("ttl: 1h\n");
  YamlFile env_file("ttl: 2h\n");
  EXPECT_EQ(
      loadOk({kUpstream, "--config", flag_file.path()}, {"DEDUP_PROXY_CONFIG=" + env_file.path()})
          .ttl,
      hours(1));
}

TEST(LoadConfig, EmptyOrUnknownVariablesAreIgnored) {
  const Config c = loadOk({kUpstream}, {"DEDUP_PROXY_TTL=", "DEDUP_PROXY_CONFIG=",
                                        "DEDUP_PROXY_PORT=tcp://10.0.0.1:8080", "DEDUP_PROXY_TTL"});
  EXPECT_EQ(c.ttl, hours(24));
}

TEST(LoadConfig, ErrorsNameKeyValueAndSource) {
  const struct {
    std::vector<std::string> flags;
    std::vector<std::string> env;
    std::string error;
  } cases[] = {
      {{}, {}, "upstream: required (--upstream http://HOST:PORT)"},
      {{kUpstream, "--ttl", "3x"},
       {},
       "ttl: '3x' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {{kUpstream},
       {"DEDUP_PROXY_TTL=3x"},
       "ttl (from DEDUP_PROXY_TTL): '3x' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {{kUpstream, "--ttl"}, {}, "ttl: '' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {{kUpstream, "--ttl=0s"}, {}, "ttl: must be more than 0 ('0s')"},
      {{kUpstream, "--ttl=106751991167d106751991167d"},
       {},
       "ttl: '106751991167d106751991167d' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {{kUpstream, "--lease=0"}, {}, "lease: must be more than 0 ('0')"},
      {{kUpstream, "--upstream-timeout=0ms"}, {}, "upstream_timeout: must be more than 0 ('0ms')"},
      {{kUpstream, "--header-timeout=0"}, {}, "header_timeout: must be more than 0 ('0')"},
      {{kUpstream},
       {"DEDUP_PROXY_IDLE_TIMEOUT=0s"},
       "idle_timeout (from DEDUP_PROXY_IDLE_TIMEOUT): must be more than 0 ('0s')"},
      {{kUpstream, "--drain-timeout=forever"},
       {},
       "drain_timeout: 'forever' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {{kUpstream, "--workers=257"},
       {},
       "workers: must be a whole number from 0 (one per CPU) to 256 ('257')"},
      {{kUpstream, "--workers=-1"},
       {},
       "workers: must be a whole number from 0 (one per CPU) to 256 ('-1')"},
      {{kUpstream, "--workers=two"},
       {},
       "workers: must be a whole number from 0 (one per CPU) to 256 ('two')"},
      {{kUpstream, "--upstream-max-connections=0"},
       {},
       "upstream_max_connections: must be a whole number from 1 to 1000000 ('0')"},
      {{kUpstream, "--max-body-size=0"}, {}, "max_body_size: must be more than 0 ('0')"},
      {{kUpstream},
       {"DEDUP_PROXY_MAX_HEADER_SIZE=lots"},
       "max_header_size (from DEDUP_PROXY_MAX_HEADER_SIZE): 'lots' is not a size (use e.g. "
       "1024, 64KiB, 8MiB)"},
      {{kUpstream, "--max-stored-body=0KiB"}, {}, "max_stored_body: must be more than 0 ('0KiB')"},
      {{kUpstream, "--require-key=yes"}, {}, "require_key: must be true or false ('yes')"},
      {{kUpstream},
       {"DEDUP_PROXY_REQUIRE_KEY=1"},
       "require_key (from DEDUP_PROXY_REQUIRE_KEY): must be true or false ('1')"},
      {{kUpstream, "--log-level=trace"},
       {},
       "log_level: must be one of debug, info, warn, error ('trace')"},
      {{kUpstream, "--log-format=text"}, {}, "log_format: must be one of logfmt, json ('text')"},
      {{kUpstream, "--on-store-error=ignore"},
       {},
       "on_store_error: must be one of fail-closed, fail-open ('ignore')"},
      {{kUpstream, "--signature=sns"},
       {},
       "signature: must be one of stripe, github, standard-webhooks, shopify, slack ('sns')"},
      {{kUpstream},
       {"DEDUP_PROXY_SIGNATURE_TOLERANCE=0"},
       "signature_tolerance (from DEDUP_PROXY_SIGNATURE_TOLERANCE): must be more than 0 ('0')"},
      {{kUpstream, "--upstream-timeout-policy=retry"},
       {},
       "upstream_timeout_policy: must be one of release, hold ('retry')"},
      {{kUpstream, "--store="}, {}, "store: must not be empty ('')"},
      {{kUpstream, "--key="}, {}, "key: must not be empty ('')"},
      {{kUpstream, "--listen=8080"},
       {},
       "listen: missing port (use HOST:PORT, [IPV6]:PORT or :PORT) ('8080')"},
      {{kUpstream},
       {"DEDUP_PROXY_ADMIN=:70000"},
       "admin (from DEDUP_PROXY_ADMIN): port must be 0 to 65535 (':70000')"},
      {{"--upstream=https://127.0.0.1:3000"},
       {},
       "upstream: https is not supported: TLS to the app is not supported, the app is on "
       "loopback (use http://HOST:PORT) ('https://127.0.0.1:3000')"},
      {{kUpstream, "--ttll=5s"}, {}, "command line: unknown flag, see --help ('--ttll=5s')"},
      {{kUpstream, "--upstream_timeout", "5s"},
       {},
       "command line: unknown flag, did you mean --upstream-timeout? ('--upstream_timeout')"},
      {{kUpstream, "stray"},
       {},
       "command line: unexpected argument, settings are --flags ('stray')"},
      {{kUpstream, "--config", "/nonexistent/dedup.yaml"},
       {},
       "config: cannot read /nonexistent/dedup.yaml: No such file or directory"},
      {{kUpstream},
       {"DEDUP_PROXY_CONFIG=/nonexistent/dedup.yaml"},
       "config (from DEDUP_PROXY_CONFIG): cannot read /nonexistent/dedup.yaml: No such file or "
       "directory"},
  };
  for (const auto& c : cases) EXPECT_EQ(loadError(c.flags, c.env), c.error);
}

TEST(LoadConfig, FileErrorsNameTheFile) {
  const struct {
    const char* yaml;
    const char* error;  // after "<path>" has been put in
  } cases[] = {
      {"ttl: 3x\n", "ttl (from PATH): '3x' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)"},
      {"ttll: 5s\n", "ttll (from PATH): unknown key, see --help ('ttll')"},
      {"upstream-timeout: 5s\n",
       "upstream-timeout (from PATH): unknown key, did you mean upstream_timeout? "
       "('upstream-timeout')"},
      {"config: other.yaml\n", "config (from PATH): unknown key, see --help ('config')"},
      {"ttl: [1h, 2h]\n", "ttl (from PATH): must be a single value, not a list or map (line 1)"},
      {"ttl:\n", "ttl (from PATH): has no value (line 1)"},
      {"ttl: 1h\n  bad: [\n", "config: cannot parse PATH: line 2, column 6: illegal map value"},
      {"- ttl\n", "config: cannot parse PATH: expected a map of settings (e.g. ttl: 24h)"},
      {"workers: 1000\n",
       "workers (from PATH): must be a whole number from 0 (one per CPU) to "
       "256 ('1000')"},
  };
  for (const auto& c : cases) {
    YamlFile file(c.yaml);
    std::string expected = c.error;
    expected.replace(expected.find("PATH"), 4, file.path());
    EXPECT_EQ(loadError({kUpstream, "--config", file.path()}), expected) << c.yaml;
  }
}

TEST(LoadConfig, DirectoryAsConfigFileCannotBeRead) {
  EXPECT_EQ(loadError({kUpstream, "--config", "/"}), "config: cannot read /: Is a directory");
}

TEST(LoadConfig, HelpListsEveryFlagWithDefaultAndEnvRule) {
  for (const char* flag : {"--help", "-h"}) {
    StatusOr<ConfigResult> result = load({flag});  // no --upstream needed
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->kind, ConfigResult::Kind::kExit);
    const std::string& help = result->message;
    for (const SettingCase& c : settingCases()) {
      EXPECT_NE(help.find("  " + flagOf(c.key) + " "), std::string::npos) << c.key;
    }
    for (const char* text : {"--config FILE",
                             "--version",
                             "[0.0.0.0:8080]",
                             "[0.0.0.0:9901]",
                             "[rocksdb:./dedup-data]",
                             "[header:Idempotency-Key]",
                             "[false]",
                             "[1d]",
                             "[upstream-timeout + 5s]",
                             "[30s]",
                             "[release]",
                             "[fail-closed]",
                             "[64KiB]",
                             "[8MiB]",
                             "[10s]",
                             "[1m]",
                             "[20s]",
                             "[64]",
                             "[info]",
                             "[logfmt]",
                             "DEDUP_PROXY_FOO_BAR",
                             "foo_bar"}) {
      EXPECT_NE(help.find(text), std::string::npos) << text;
    }
    EXPECT_EQ(help.back(), '\n');
    size_t line_start = 0;
    for (size_t end; (end = help.find('\n', line_start)) != std::string::npos;
         line_start = end + 1) {
      EXPECT_LE(end - line_start, 100u) << help.substr(line_start, end - line_start);
    }
  }
}

TEST(LoadConfig, HelpWinsOverBadSettings) {
  StatusOr<ConfigResult> result = load({"--ttl=3x", "--help"}, {"DEDUP_PROXY_WORKERS=x"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, ConfigResult::Kind::kExit);
}

TEST(LoadConfig, Version) {
  StatusOr<ConfigResult> result = load({"--version"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, ConfigResult::Kind::kExit);
  EXPECT_EQ(result->message, std::string("dedup-proxy ") + DEDUP_PROXY_VERSION + "\n");
}

TEST(ParseSocketAddress, Valid) {
  const struct {
    const char* text;
    const char* host;
    uint16_t port;
    const char* formatted;
  } cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080"},
      {"0.0.0.0:0", "0.0.0.0", 0, "0.0.0.0:0"},
      {":9901", "0.0.0.0", 9901, "0.0.0.0:9901"},
      {"[::1]:8080", "::1", 8080, "[::1]:8080"},
      {"[::]:65535", "::", 65535, "[::]:65535"},
      {"[fe80::1:2]:1", "fe80::1:2", 1, "[fe80::1:2]:1"},
  };
  for (const auto& c : cases) {
    StatusOr<SocketAddress> address = parseSocketAddress(c.text);
    ASSERT_TRUE(address.ok()) << c.text << ": " << address.status().ToString();
    EXPECT_EQ(address->host, c.host);
    EXPECT_EQ(address->port, c.port);
    EXPECT_EQ(address->toString(), c.formatted);
  }
}

TEST(ParseSocketAddress, Invalid) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "missing port (use HOST:PORT, [IPV6]:PORT or :PORT) ('')"},
      {"127.0.0.1", "missing port (use HOST:PORT, [IPV6]:PORT or :PORT) ('127.0.0.1')"},
      {"[::1]", "missing port (use HOST:PORT, [IPV6]:PORT or :PORT) ('[::1]')"},
      {"127.0.0.1:", "port must be 0 to 65535 ('127.0.0.1:')"},
      {"127.0.0.1:70000", "port must be 0 to 65535 ('127.0.0.1:70000')"},
      {"127.0.0.1:-1", "port must be 0 to 65535 ('127.0.0.1:-1')"},
      {"127.0.0.1:80x", "port must be 0 to 65535 ('127.0.0.1:80x')"},
      {"::1:8080",
       "an IPv6 address needs brackets, e.g. [::1]:8080 (use HOST:PORT, [IPV6]:PORT or :PORT) "
       "('::1:8080')"},
      {"[::1:8080", "'[' without ']' (use HOST:PORT, [IPV6]:PORT or :PORT) ('[::1:8080')"},
      {"[::1]8080",
       "unexpected text after ']' (use HOST:PORT, [IPV6]:PORT or :PORT) ('[::1]8080')"},
      {"[127.0.0.1]:80", "not an IPv6 address inside [ ] ('[127.0.0.1]:80')"},
      {"localhost:8080",
       "host must be an IP address, e.g. 0.0.0.0, 127.0.0.1 or [::1] ('localhost:8080')"},
      {"256.0.0.1:80",
       "host must be an IP address, e.g. 0.0.0.0, 127.0.0.1 or [::1] ('256.0.0.1:80')"},
  };
  for (const auto& c : cases) {
    StatusOr<SocketAddress> address = parseSocketAddress(c.text);
    ASSERT_FALSE(address.ok()) << c.text;
    EXPECT_EQ(address.status().message(), c.error);
  }
}

TEST(ParseUpstreamUrl, Valid) {
  const struct {
    const char* text;
    const char* host;
    uint16_t port;
    const char* host_header;
  } cases[] = {
      {"http://127.0.0.1:3000", "127.0.0.1", 3000, "127.0.0.1:3000"},
      {"http://127.0.0.1:3000/", "127.0.0.1", 3000, "127.0.0.1:3000"},
      {"http://localhost", "localhost", 80, "localhost:80"},
      {"HTTP://app.internal:8000", "app.internal", 8000, "app.internal:8000"},
      {"http://[::1]:3000", "::1", 3000, "[::1]:3000"},
      {"http://[::1]", "::1", 80, "[::1]:80"},
      {"http://10.0.0.1:65535/", "10.0.0.1", 65535, "10.0.0.1:65535"},
  };
  for (const auto& c : cases) {
    StatusOr<UpstreamUrl> url = parseUpstreamUrl(c.text);
    ASSERT_TRUE(url.ok()) << c.text << ": " << url.status().ToString();
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->host_header, c.host_header);
  }
}

TEST(ParseUpstreamUrl, Invalid) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"https://127.0.0.1:3000",
       "https is not supported: TLS to the app is not supported, the app is on loopback (use "
       "http://HOST:PORT) ('https://127.0.0.1:3000')"},
      {"127.0.0.1:3000", "not a URL (use http://HOST:PORT) ('127.0.0.1:3000')"},
      {"ftp://host:21", "only http:// is supported (use http://HOST:PORT) ('ftp://host:21')"},
      {"http://", "missing host ('http://')"},
      {"http://:3000", "missing host ('http://:3000')"},
      {"http://host:0", "port must be 1 to 65535 ('http://host:0')"},
      {"http://host:70000", "port must be 1 to 65535 ('http://host:70000')"},
      {"http://host:", "port must be 1 to 65535 ('http://host:')"},
      {"http://host:3000/api",
       "a path, query or fragment is not supported (use http://HOST:PORT) "
       "('http://host:3000/api')"},
      {"http://host:3000?x=1",
       "a path, query or fragment is not supported (use http://HOST:PORT) "
       "('http://host:3000?x=1')"},
      {"http://user:pw@host:3000",
       "user info is not supported (use http://HOST:PORT) ('http://user:pw@host:3000')"},
      {"http://[zz]:3000", "not a valid host ('http://[zz]:3000')"},
      {"http://bad_host:3000", "not a valid host ('http://bad_host:3000')"},
      {"http://::1:3000", "an IPv6 address needs brackets, e.g. [::1]:8080 ('http://::1:3000')"},
  };
  for (const auto& c : cases) {
    StatusOr<UpstreamUrl> url = parseUpstreamUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_EQ(url.status().message(), c.error);
  }
}

TEST(SocketAddress, ToString) {
  EXPECT_EQ((SocketAddress{"127.0.0.1", 8080}).toString(), "127.0.0.1:8080");
  EXPECT_EQ((SocketAddress{"::1", 8080}).toString(), "[::1]:8080");
  EXPECT_EQ((SocketAddress{"0.0.0.0", 0}).toString(), "0.0.0.0:0");
}

TEST(LoadConfig, CheckConfigIsItsOwnKindOfResult) {
  StatusOr<ConfigResult> result = load({kUpstream, "--check-config"});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, ConfigResult::Kind::kCheck);
}

TEST(LoadConfig, ARouteErrorNamesTheFileTheRouteAndTheLine) {
  YamlFile file(
      "upstream: http://localhost:3000\n"
      "routes:\n"
      "  - name: stripe\n"
      "    ttl: never\n");
  StatusOr<ConfigResult> result = load({"--config", file.path()});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(file.path() + ": routes[0] (stripe) ttl:"),
            std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("(line 4)"), std::string::npos);
}

}  // namespace
}  // namespace dedup
