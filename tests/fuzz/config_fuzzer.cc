// Fuzzes the YAML config file: the settings and the `routes:` list, through
// loadConfig() (as --config FILE) and, when it loads, buildRoutes() and
// describeRoutes() (what --check-config prints). Whatever the file holds, the
// result is a Config or an InvalidArgument with a message: never a crash, an
// escaped exception or a hang.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/config/config_loader.h"
#include "proxy/config/route_table.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dedup;
  // The file lives in memory: no disk, nothing left behind.
  static const int fd = memfd_create("config.yaml", 0);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, data, size, 0) == static_cast<ssize_t>(size));
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  const std::vector<std::string> args = {"dedup-proxy", "--upstream", "http://127.0.0.1:9",
                                         "--config", path};
  StatusOr<ConfigResult> loaded = loadConfig(args, {});
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.status().code() == Status::Code::kInvalidArgument);
    FUZZ_CHECK(!loaded.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(loaded->kind == ConfigResult::Kind::kRun);
  auto routes = buildRoutes(loaded->config);
  if (!routes.ok()) {
    FUZZ_CHECK(!routes.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(!(*routes)->routes().empty());
  FUZZ_CHECK(!describeRoutes(**routes).empty());
  return 0;
}
