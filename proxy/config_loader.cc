#include "proxy/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>

#include "adapters/preset.h"
#include "common/duration.h"
#include "proxy/config_parse.h"
#include "proxy/route_config_parse.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kEnvPrefix = "DEDUP_PROXY_";

// One setting, named once: the YAML key is `key`, the flag and the environment
// variable are derived from it (upstream_timeout → --upstream-timeout,
// DEDUP_PROXY_UPSTREAM_TIMEOUT).
struct Setting {
  std::string key;
  std::string value_name;  // shown in --help: "--ttl DURATION"
  std::string help;
  std::function<std::string(const Config&)> show_default;  // "" when there is none
  // Parses `text` into `config`. The error says what is wrong and quotes the
  // text; the loader puts the key and the source in front.
  std::function<Status(std::string_view text, Config& config)> apply;
};

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
  s.push_back(textSetting("redis_prefix", "PREFIX", "redis store: prefix of every key",
                          &Config::redis_prefix));
  s.push_back(durationSetting("redis_connect_timeout", "redis store: connecting may take this long",
                              &Config::redis_connect_timeout, false));
  s.push_back(durationSetting("redis_command_timeout",
                              "redis store: each command may take this long",
                              &Config::redis_command_timeout, false));
  s.push_back(textSetting("key", "SPEC", "what identifies a delivery", &Config::key));
  s.push_back(textSetting("admin_token", "TOKEN",
                          "turns on the admin key API (Authorization: Bearer TOKEN)",
                          &Config::admin_token));
  // A bare flag on the command line; "true" or "false" in the environment and the file.
  s.push_back({"require_key", "", "400 to a request without a key (env, file: true|false)",
               [](const Config& c) { return std::string(c.require_key ? "true" : "false"); },
               [](std::string_view text, Config& c) -> Status {
                 if (text == "true") {
                   c.require_key = true;
                 } else if (text == "false") {
                   c.require_key = false;
                 } else {
                   return badValue("must be true or false", text);
                 }
                 return Status::OK();
               }});
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
  s.push_back(durationSetting("idle_timeout", "a keep-alive connection may idle this long",
                              &Config::idle_timeout, false));
  s.push_back(durationSetting("drain_timeout", "on SIGTERM, in-flight deliveries may finish in it",
                              &Config::drain_timeout, true));
  s.push_back(countSetting("upstream_max_connections", "connections to the app per worker",
                           &Config::upstream_max_connections, 1, 1'000'000, "from 1 to 1000000"));
  s.push_back(choiceSetting<std::string>(
      "log_level", "LEVEL", "debug, info, warn or error", &Config::log_level,
      {{"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}}));
  s.push_back(choiceSetting<std::string>("log_format", "FORMAT", "logfmt or json",
                                         &Config::log_format,
                                         {{"logfmt", "logfmt"}, {"json", "json"}}));
  return s;
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
      "URI: rocksdb:PATH or redis://[USER:PASS@]HOST:PORT[/DB].\n"
      "SPEC: header:NAME, query:NAME, json:/POINTER, body-sha256, cloudevents, A+B (all of),\n"
      "  A|B (first found), or a preset:\n"
      "  " +
      presetNames() + ".\n";
  return out;
}

// Where a setting's value came from; empty for the command line.
struct Sourced {
  std::string text;
  std::string source;
};

std::string label(std::string_view key, const std::string& source) {
  return source.empty() ? std::string(key) : std::string(key) + " (from " + source + ")";
}

std::optional<size_t> settingIndex(std::string_view key) {
  const auto& all = settings();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].key == key) return i;
  }
  return std::nullopt;
}

Status readFile(const std::string& path, const std::string& source, std::string& contents) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::InvalidArgument(label("config", source) + ": cannot read " + path + ": " +
                                   std::strerror(errno));
  }
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return Status::InvalidArgument(label("config", source) + ": cannot read " + path + ": " +
                                   std::strerror(error));
  }
  return Status::OK();
}

// Fills `values` from the YAML file at `path`.
Status loadFile(const std::string& path, const std::string& source,
                std::vector<std::optional<Sourced>>& values, std::vector<RouteConfig>& routes) {
  std::string contents;
  if (Status s = readFile(path, source, contents); !s.ok()) return s;
  const std::string cannot_parse = label("config", source) + ": cannot parse " + path + ": ";
  YAML::Node root;
  try {
    root = YAML::Load(contents);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(cannot_parse + "line " + std::to_string(e.mark.line + 1) +
                                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::OK();  // an empty file sets nothing
  if (!root.IsMap()) {
    return Status::InvalidArgument(cannot_parse + "expected a map of settings (e.g. ttl: 24h)");
  }
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      return Status::InvalidArgument(cannot_parse + "line " +
                                     std::to_string(entry.first.Mark().line + 1) +
                                     ": a key must be a plain name");
    }
    const std::string key = entry.first.Scalar();
    if (key == "routes") {
      if (Status s = parseRoutes(entry.second, path, routes); !s.ok()) return s;
      continue;
    }
    const std::optional<size_t> index = settingIndex(key);
    if (!index) {
      std::string hint = key;
      std::replace(hint.begin(), hint.end(), '-', '_');
      hint = settingIndex(hint) ? ", did you mean " + hint + "?" : ", see --help";
      return Status::InvalidArgument(label(key, path) + ": unknown key" + hint + " ('" + key +
                                     "')");
    }
    if (!entry.second.IsScalar()) {
      const std::string line = std::to_string(entry.first.Mark().line + 1);
      return Status::InvalidArgument(
          label(key, path) + ": " +
          (entry.second.IsNull() ? "has no value" : "must be a single value, not a list or map") +
          " (line " + line + ")");
    }
    values[*index] = Sourced{entry.second.Scalar(), path};
  }
  return Status::OK();
}

// The value of NAME in "NAME=value" entries; the first one wins, as with getenv.
std::optional<std::string> findEnv(const std::vector<std::string>& environment,
                                   std::string_view name) {
  for (const std::string& entry : environment) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      return entry.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

StatusOr<ConfigResult> loadConfig(const std::vector<std::string>& args,
                                  const std::vector<std::string>& environment) {
  const std::vector<Setting>& all = settings();
  std::vector<std::string> flag_values(all.size());
  std::vector<CLI::Option*> options;
  std::string config_path;
  bool help = false;
  bool version = false;
  bool check = false;

  CLI::App app;
  app.set_help_flag();  // --help is ours: the text is built from the settings
  app.allow_extras();   // unknown flags are reported below, in our words
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].key == "require_key") {
      options.push_back(app.add_flag(flagName(all[i].key), flag_values[i]));
    } else {
      // A flag without its value yields "", which the setting then rejects with
      // the same message as an explicit empty value.
      options.push_back(app.add_option(flagName(all[i].key), flag_values[i])->expected(0, 1));
    }
  }
  CLI::Option* config_option = app.add_option("--config", config_path)->expected(0, 1);
  app.add_flag("-h,--help", help);
  app.add_flag("--version", version);
  app.add_flag("--check-config", check);

  // CLI11 takes the arguments reversed and without the program name.
  std::vector<std::string> reversed;
  if (!args.empty()) reversed.assign(args.rbegin(), args.rend() - 1);
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(std::string("command line: ") + e.what());
  }

  ConfigResult result;
  if (help || version) {
    result.kind = ConfigResult::Kind::kExit;
    result.message = help ? helpText() : std::string("dedup-proxy ") + DEDUP_PROXY_VERSION + "\n";
    return result;
  }
  if (!app.remaining().empty()) {
    const std::string extra = app.remaining().front();
    if (extra.rfind('-', 0) != 0) {
      return badValue("command line: unexpected argument, settings are --flags", extra);
    }
    // --upstream_timeout: a YAML key used as a flag.
    std::string key = extra.substr(0, extra.find('='));
    key.erase(0, key.find_first_not_of('-'));
    std::replace(key.begin(), key.end(), '-', '_');
    const std::string hint =
        settingIndex(key) ? ", did you mean " + flagName(key) + "?" : ", see --help";
    return badValue("command line: unknown flag" + hint, extra);
  }

  std::vector<std::optional<Sourced>> values(all.size());
  const std::string config_env = envName("config");
  const std::optional<std::string> env_config_path = findEnv(environment, config_env);
  if (config_option->count() > 0) {
    if (config_path.empty()) return badValue("config: must not be empty", config_path);
    if (Status s = loadFile(config_path, "", values, result.config.routes); !s.ok()) return s;
  } else if (env_config_path && !env_config_path->empty()) {
    if (Status s = loadFile(*env_config_path, config_env, values, result.config.routes); !s.ok()) {
      return s;
    }
  }
  // An empty variable counts as unset: deployment templates often pass every
  // variable, empty when not wanted. Unknown DEDUP_PROXY_* variables are
  // ignored: Kubernetes injects DEDUP_PROXY_PORT and the like for a service
  // named dedup-proxy.
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string name = envName(all[i].key);
    std::optional<std::string> value = findEnv(environment, name);
    if (value && !value->empty()) values[i] = Sourced{std::move(*value), name};
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (options[i]->count() > 0) values[i] = Sourced{flag_values[i], ""};
  }

  for (size_t i = 0; i < all.size(); ++i) {
    if (!values[i]) continue;
    if (Status s = all[i].apply(values[i]->text, result.config); !s.ok()) {
      return Status::InvalidArgument(label(all[i].key, values[i]->source) + ": " + s.message());
    }
  }
  if (!values[*settingIndex("upstream")]) {
    return Status::InvalidArgument("upstream: required (--upstream http://HOST:PORT)");
  }
  if (check) result.kind = ConfigResult::Kind::kCheck;
  return result;
}

}  // namespace dedup
