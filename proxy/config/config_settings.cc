#include "proxy/config/config_settings.h"

#include <algorithm>
#include <charconv>

#include "adapters/preset.h"
#include "adapters/signature_verifier.h"
#include "common/duration.h"
#include "proxy/config/config_parse.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kEnvPrefix = "DEDUP_PROXY_";

std::string formatSize(uint64_t bytes) {
  const struct {
    uint64_t scale;
    const char* unit;
  } units[] = {{1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& u : units) {
    if (bytes >= u.scale && bytes % u.scale == 0) return std::to_string(bytes / u.scale) + u.unit;
  }
  return std::to_string(bytes);
}

Setting durationSetting(std::string key, std::string help, milliseconds Config::*field,
                        bool zero_allowed) {
  return {std::move(key), "DURATION", std::move(help),
          [field](const Config& c) { return formatDuration(c.*field); },
          [field, zero_allowed](std::string_view text, Config& c) -> Status {
            StatusOr<milliseconds> d = parseDuration(text);
            if (!d.ok()) return d.status();
            if (!zero_allowed && d->count() == 0) return badValue("must be more than 0", text);
            c.*field = *d;
            return Status::OK();
          }};
}

Setting sizeSetting(std::string key, std::string help, uint64_t Config::*field) {
  return {std::move(key), "SIZE", std::move(help),
          [field](const Config& c) { return formatSize(c.*field); },
          [field](std::string_view text, Config& c) -> Status {
            StatusOr<uint64_t> size = parseSize(text);
            if (!size.ok()) return size.status();
            if (*size == 0) return badValue("must be more than 0", text);
            c.*field = *size;
            return Status::OK();
          }};
}

Setting countSetting(std::string key, std::string help, int Config::*field, int min, int max,
                     const std::string& range_text) {
  return {std::move(key), "N", std::move(help),
          [field](const Config& c) { return std::to_string(c.*field); },
          [=](std::string_view text, Config& c) -> Status {
            int n = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min ||
                n > max) {
              return badValue("must be a whole number " + range_text, text);
            }
            c.*field = n;
            return Status::OK();
          }};
}

Setting boolSetting(std::string key, std::string help, bool Config::*field) {
  return {std::move(key), "", std::move(help),
          [field](const Config& c) { return std::string(c.*field ? "true" : "false"); },
          [field](std::string_view text, Config& c) -> Status {
            if (text == "true") {
              c.*field = true;
            } else if (text == "false") {
              c.*field = false;
            } else {
              return badValue("must be true or false", text);
            }
            return Status::OK();
          }};
}

Setting textSetting(std::string key, std::string value_name, std::string help,
                    std::string Config::*field) {
  return {std::move(key), std::move(value_name), std::move(help),
          [field](const Config& c) { return c.*field; },
          [field](std::string_view text, Config& c) -> Status {
            if (text.empty()) return badValue("must not be empty", text);
            c.*field = std::string(text);
            return Status::OK();
          }};
}

// One of a few names, each standing for a value of the field.
template <typename T>
Setting choiceSetting(std::string key, std::string value_name, std::string help, T Config::*field,
                      std::vector<std::pair<std::string, T>> choices) {
  std::string listed;
  for (const auto& choice : choices) listed += (listed.empty() ? "" : ", ") + choice.first;
  return {std::move(key), std::move(value_name), std::move(help),
          [field, choices](const Config& c) {
            for (const auto& [name, value] : choices) {
              if (c.*field == value) return name;
            }
            return std::string();
          },
          [field, choices, listed](std::string_view text, Config& c) -> Status {
            for (const auto& [name, value] : choices) {
              if (name == text) {
                c.*field = value;
                return Status::OK();
              }
            }
            return badValue("must be one of " + listed, text);
          }};
}

std::vector<Setting> makeSettings() {
  std::vector<Setting> s;
  s.push_back({"upstream", "URL", "the app, http://HOST:PORT (required)",
               [](const Config&) { return std::string(); },
               [](std::string_view text, Config& c) -> Status {
                 StatusOr<UpstreamUrl> url = parseUpstreamUrl(text);
                 if (!url.ok()) return url.status();
                 c.upstream = *url;
                 c.upstream_text = std::string(text);
                 return Status::OK();
               }});
  for (const auto& [key, help, field] :
       {std::tuple{"listen", "senders connect here", &Config::listen},
        std::tuple{"admin", "/metrics, /healthz, /readyz", &Config::admin}}) {
    const auto address = field;
    s.push_back({key, "ADDR", help, [address](const Config& c) { return (c.*address).toString(); },
                 [address](std::string_view text, Config& c) -> Status {
                   StatusOr<SocketAddress> parsed = parseSocketAddress(text);
                   if (!parsed.ok()) return parsed.status();
                   c.*address = *parsed;
                   return Status::OK();
                 }});
  }
  s.push_back(textSetting("store", "URI", "where keys are remembered", &Config::store));
  s.push_back(durationSetting("store_timeout",
                              "rocksdb store: deadline of each operation and fsync",
                              &Config::store_timeout, false));
  s.push_back(textSetting("redis_prefix", "PREFIX", "redis store: prefix of every key",
                          &Config::redis_prefix));
  s.push_back(durationSetting("redis_connect_timeout", "redis store: connecting may take this long",
                              &Config::redis_connect_timeout, false));
  s.push_back(durationSetting("redis_command_timeout",
                              "redis store: each command may take this long",
                              &Config::redis_command_timeout, false));
  s.push_back(textSetting("key", "SPEC", "what identifies a delivery", &Config::key));
  s.push_back({"signature", "SCHEME", "check signatures before dedup (SCHEME below)",
               [](const Config&) { return std::string("the preset's"); },
               [](std::string_view text, Config& c) -> Status {
                 if (!makeSignatureVerifier(text, kDefaultSignatureTolerance).ok()) {
                   return badValue("must be one of " + signatureSchemeNames(), text);
                 }
                 c.signature = std::string(text);
                 return Status::OK();
               }});
  s.push_back(textSetting("signature_secret_file", "PATH",
                          "signature secrets, one per line; SIGHUP re-reads it",
                          &Config::signature_secret_file));
  s.push_back(durationSetting("signature_tolerance", "how far a signed timestamp may be from now",
                              &Config::signature_tolerance, false));
  s.push_back(textSetting("admin_token", "TOKEN",
                          "turns on the admin key API (Authorization: Bearer TOKEN)",
                          &Config::admin_token));
  // A bare flag on the command line; "true" or "false" in the environment and the file.
  s.push_back(boolSetting("require_key", "400 to a request without a key (env, file: true|false)",
                          &Config::require_key));
  s.push_back(boolSetting("admin_keys_remote", "/keys from any peer (env, file: true|false)",
                          &Config::admin_keys_remote));
  s.push_back(
      durationSetting("ttl", "how long a committed key is remembered", &Config::ttl, false));
  s.push_back(durationSetting("lease", "how long a delivery holds its key", &Config::lease, false));
  s.back().show_default = [](const Config&) { return std::string("upstream-timeout + 5s"); };
  s.push_back(durationSetting("upstream_timeout", "the app's whole answer must arrive in it",
                              &Config::upstream_timeout, false));
  s.push_back(choiceSetting<UpstreamTimeoutPolicy>(
      "upstream_timeout_policy", "POLICY", "on upstream timeout: release the key, or hold it",
      &Config::upstream_timeout_policy,
      {{"release", UpstreamTimeoutPolicy::kRelease}, {"hold", UpstreamTimeoutPolicy::kHold}}));
  s.push_back(choiceSetting<UpstreamProtocol>(
      "upstream_protocol", "PROTOCOL", "to the app: http1, or h2c (HTTP/2, prior knowledge)",
      &Config::upstream_protocol,
      {{"http1", UpstreamProtocol::kHttp1}, {"h2c", UpstreamProtocol::kH2c}}));
  s.push_back(choiceSetting<StoreErrorPolicy>("on_store_error", "POLICY",
                                              "fail-closed (answer 503) or fail-open (no dedup)",
                                              &Config::on_store_error,
                                              {{"fail-closed", StoreErrorPolicy::kFailClosed},
                                               {"fail-open", StoreErrorPolicy::kFailOpen}}));
  s.push_back(countSetting("workers", "worker threads; 0: one per CPU (cgroup quota counted)",
                           &Config::workers, 0, 256, "from 0 (one per CPU) to 256"));
  s.push_back(sizeSetting("max_stored_body", "longer app bodies are not replayed",
                          &Config::max_stored_body));
  s.push_back(sizeSetting("max_header_size", "request headers beyond it get 431",
                          &Config::max_header_bytes));
  s.push_back(
      sizeSetting("max_body_size", "request bodies beyond it get 413", &Config::max_body_bytes));
  s.push_back(durationSetting("header_timeout", "a request's headers must arrive in it",
                              &Config::header_timeout, false));
  s.push_back(durationSetting("body_timeout",
                              "a request's body must arrive in it (from its headers' end)",
                              &Config::body_timeout, false));
  s.push_back(durationSetting("idle_timeout", "a keep-alive connection may idle this long",
                              &Config::idle_timeout, false));
  s.push_back(sizeSetting("max_output_buffer", "a connection with more unsent bytes is not read",
                          &Config::max_output_buffer));
  s.push_back(durationSetting("write_timeout", "a connection taking no answer bytes is closed",
                              &Config::write_timeout, false));
  s.push_back(durationSetting("drain_timeout", "on SIGTERM, in-flight deliveries may finish in it",
                              &Config::drain_timeout, true));
  s.push_back(countSetting("upstream_max_connections", "connections to the app per worker",
                           &Config::upstream_max_connections, 1, 1'000'000, "from 1 to 1000000"));
  s.push_back(countSetting("upstream_max_waiting",
                           "per worker: requests waiting for the app (then 503)",
                           &Config::upstream_max_waiting, 1, 1'000'000, "from 1 to 1000000"));
  s.push_back(countSetting("max_connections", "sender connections, all workers (then 503, close)",
                           &Config::max_connections, 1, 10'000'000, "from 1 to 10000000"));
  s.push_back(sizeSetting("max_buffered", "bytes held for all senders (then 503 to new requests)",
                          &Config::max_buffered_bytes));
  s.push_back(countSetting("admin_max_connections", "admin port connections (then not accepted)",
                           &Config::admin_max_connections, 1, 100'000, "from 1 to 100000"));
  s.push_back(durationSetting("admin_timeout", "admin port: read and idle deadline",
                              &Config::admin_timeout, false));
  s.push_back(countSetting("max_waiters_per_key",
                           "duplicates waiting for one key in flight (in_flight: wait)",
                           &Config::max_waiters_per_key, 1, 1'000'000, "from 1 to 1000000"));
  s.push_back(countSetting("max_waiters", "duplicates waiting in all (in_flight: wait)",
                           &Config::max_waiters, 1, 1'000'000, "from 1 to 1000000"));
  s.push_back(choiceSetting<std::string>(
      "log_level", "LEVEL", "debug, info, warn or error", &Config::log_level,
      {{"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}}));
  s.push_back(choiceSetting<std::string>("log_format", "FORMAT", "logfmt or json",
                                         &Config::log_format,
                                         {{"logfmt", "logfmt"}, {"json", "json"}}));
  return s;
}
// `text` broken at spaces into lines of at most 80 characters, each indented.
std::string wrap(const std::string& text, const std::string& indent) {
  std::string out;
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > 80) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

}  // namespace

Status badValue(const std::string& what, std::string_view text) {
  return Status::InvalidArgument(what + " ('" + std::string(text) + "')");
}

std::string flagName(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string envName(std::string_view key) {
  std::string name(kEnvPrefix);
  for (const char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = makeSettings();
  return kSettings;
}

std::string helpText() {
  const Config defaults;
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Setting& s : settings()) {
    std::string text = s.help;
    const std::string def = s.show_default(defaults);
    if (!def.empty()) text += (text.empty() ? "[" : " [") + def + "]";
    rows.emplace_back(flagName(s.key) + (s.value_name.empty() ? "" : " ") + s.value_name, text);
  }
  rows.emplace_back("--config FILE",
                    "YAML file with settings (keys as below: foo_bar for --foo-bar)");
  rows.emplace_back("--check-config", "check the settings, print the routes and exit");
  rows.emplace_back("--help", "print this help and exit");
  rows.emplace_back("--version", "print the version and exit");

  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out =
      "Usage: dedup-proxy --upstream http://HOST:PORT [OPTIONS]\n"
      "Deduplicates at-least-once webhook deliveries in front of an app.\n"
      "\n"
      "Options [default]:\n";
  for (const auto& [flag, text] : rows) {
    out += "  " + flag + std::string(width + 2 - flag.size(), ' ') + text + "\n";
  }
  out +=
      "\n"
      "Every flag --foo-bar can also be set by the environment variable DEDUP_PROXY_FOO_BAR\n"
      "or by the key foo_bar in the YAML file (--config or DEDUP_PROXY_CONFIG).\n"
      "Flags beat the environment, the environment beats the file.\n"
      "DURATION: 250ms, 30s, 5m, 24h, 7d, 1h30m (a bare number is seconds).\n"
      "SIZE: 1024, 64KiB, 8MiB, 1GiB (a bare number is bytes).\n"
      "ADDR: HOST:PORT, [IPV6]:PORT, or :PORT for all interfaces; port 0 picks a free port.\n"
      "URI: rocksdb:PATH, redis://[USER:PASS@]HOST:PORT[/DB], or Sentinel:\n"
      "  redis-sentinel://[USER:PASS@]HOST:PORT[,HOST:PORT...]/MASTER[/DB] (USER:PASS is the\n"
      "  master's AUTH; Sentinels are asked without AUTH; no rediss://: hiredis 0.14 has no TLS),\n"
      "  or a Redis Cluster: redis-cluster://[USER:PASS@]HOST:PORT[,HOST:PORT...] (seed nodes).\n"
      "SPEC: header:NAME, query:NAME, json:/POINTER, body-sha256, cloudevents, A+B (all of),\n"
      "  A|B (first found), or a preset:\n" +
      wrap(presetNames() + ".", "  ") + "SCHEME: " + signatureSchemeNames() +
      "; the presets of\n"
      "  those senders name theirs, so --key stripe --signature-secret-file FILE is enough.\n";
  return out;
}
std::optional<size_t> settingIndex(std::string_view key) {
  const auto& all = settings();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].key == key) return i;
  }
  return std::nullopt;
}

}  // namespace dedup
