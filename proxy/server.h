// Server: the whole process. Opens the store and the sockets, runs the
// workers and the admin port, and on SIGTERM/SIGINT shuts down gracefully:
// /readyz turns unready, the listener closes, in-flight deliveries finish
// (bounded by the drain timeout), the store is flushed, exit 0.
#pragma once

#include "proxy/config/config.h"

namespace dedup {

class Server {
 public:
  explicit Server(Config config) : config_(std::move(config)) {}
  // Runs until a stop signal; returns the process exit code.
  int run();

 private:
  Config config_;
};

}  // namespace dedup
