#include "proxy/config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "proxy/config/config_settings.h"
#include "proxy/config/route_config_parse.h"

namespace dedup {
namespace {

// Where a setting's value came from; empty for the command line.
struct Sourced {
  std::string text;
  std::string source;
};

std::string label(std::string_view key, const std::string& source) {
  return source.empty() ? std::string(key) : std::string(key) + " (from " + source + ")";
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
    if (all[i].value_name.empty()) {  // a bare flag: true when given
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
