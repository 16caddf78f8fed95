// dedup-proxy: makes at-least-once deliveries look exactly-once to the app.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/log.h"
#include "proxy/config/check_config.h"
#include "proxy/config/config_loader.h"
#include "proxy/server.h"

extern char** environ;

int main(int argc, char** argv) {
  // A fixed mmap threshold (glibc otherwise raises it after each large free):
  // RocksDB's large buffers (memtable arena blocks, table building) then go
  // back to the system when freed instead of staying in malloc's arenas.
  // Unless the operator chose one (MALLOC_MMAP_THRESHOLD_).
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);

  auto loaded = dedup::loadConfig(args, environment);
  if (!loaded.ok()) {
    std::fprintf(stderr, "dedup-proxy: %s\n", loaded.status().message().c_str());
    return 2;
  }
  if (loaded->kind == dedup::ConfigResult::Kind::kExit) {
    std::fputs(loaded->message.c_str(), stdout);
    return 0;
  }
  dedup::Config& config = loaded->config;
  if (loaded->kind == dedup::ConfigResult::Kind::kCheck) return dedup::checkConfig(config);
  dedup::log::Level level = dedup::log::Level::kInfo;
  dedup::log::Format format = dedup::log::Format::kLogfmt;
  dedup::log::parseLevel(config.log_level, &level);
  dedup::log::parseFormat(config.log_format, &format);
  dedup::log::configure(level, format);
  const int code = dedup::Server(std::move(config)).run();
  dedup::log::flush();
  return code;
}
