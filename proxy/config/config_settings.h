// The settings of Config (config.h), each named once: its YAML key, from
// which its flag and environment variable are derived, its help text, its
// default as shown, and its parser. Internal to proxy/: used by
// loadConfig() (config_loader.h) and by tests. Thread-safety: the table is
// built once, then read-only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/config/config.h"

namespace dedup {

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

const std::vector<Setting>& settings();
// The index of the setting with YAML key `key` in settings().
std::optional<size_t> settingIndex(std::string_view key);

std::string flagName(std::string_view key);  // upstream_timeout → --upstream-timeout
std::string envName(std::string_view key);   // → DEDUP_PROXY_UPSTREAM_TIMEOUT
// --help: every flag with its value, default and meaning.
std::string helpText();
// InvalidArgument "what ('text')".
Status badValue(const std::string& what, std::string_view text);

}  // namespace dedup
