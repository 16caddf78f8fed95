// loadConfig(): builds the Config from the YAML file, the environment and the
// command line (flags beat env, env beats file). Every flag --foo-bar has the
// environment variable DEDUP_PROXY_FOO_BAR and the YAML key foo_bar.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "proxy/config/config.h"

namespace dedup {

struct ConfigResult {
  enum class Kind {
    kRun,    // start the proxy with `config`
    kExit,   // print `message` to stdout and exit 0 (--help, --version)
    kCheck,  // --check-config: build the routes from `config`, print them, exit
  };
  Kind kind = Kind::kRun;
  Config config;
  std::string message;
};

// `environment` holds "NAME=value" entries (like environ). A bad setting
// yields InvalidArgument with one line naming the setting and the bad value;
// main prints it and exits with status 2.
StatusOr<ConfigResult> loadConfig(const std::vector<std::string>& args,
                                  const std::vector<std::string>& environment);

}  // namespace dedup
