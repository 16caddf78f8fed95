// Config: every setting of the process, with its default. Built once at
// start-up by loadConfig() (config_loader.h) from, in rising precedence, the
// YAML file (--config), DEDUP_PROXY_* environment variables, and flags.
// Immutable after start-up; shared read-only by all threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adapters/profile.h"

namespace dedup {

struct SocketAddress {
  std::string host;              // "0.0.0.0", "127.0.0.1", "::1" (no brackets)
  uint16_t port = 0;             // 0: any free port (the bound port is logged)
  std::string toString() const;  // "127.0.0.1:8080", "[::1]:8080"
};

struct UpstreamUrl {
  std::string host;  // "127.0.0.1"
  uint16_t port = 80;
  std::string host_header;  // "127.0.0.1:3000": sent as Host to the app
};

enum class StoreErrorPolicy { kFailClosed, kFailOpen };
enum class UpstreamProtocol {
  kHttp1,  // HTTP/1.1, one exchange per connection at a time
  kH2c,    // HTTP/2 with prior knowledge, many streams per connection
};
enum class UpstreamTimeoutPolicy {
  kRelease,  // release the key: the redelivery is forwarded at once
  kHold,     // keep the lease until it expires: the app may still be working
};

// One entry of the YAML `routes:` list, as written; route_table.h turns it
// into a Route. Unset fields take the top-level setting or the preset's value.
struct RouteConfig {
  std::string name;
  std::string path = "/";  // the path, or its prefix when path_is_prefix
  bool path_is_prefix = true;
  std::vector<std::string> methods;  // empty: POST, PUT, PATCH
  std::string host;                  // empty: any Host
  std::string preset;                // empty: the top-level key's preset
  std::string key;                   // empty: the preset's key spec
  std::string scope;                 // empty: name
  std::optional<std::chrono::milliseconds> ttl;
  std::optional<std::chrono::milliseconds> lease;
  std::optional<bool> require_key;
  ProfileOverride profile;
  int line = 0;  // in the config file, for messages
};

struct Config {
  // Where the app listens. --upstream http://HOST:PORT (required)
  UpstreamUrl upstream;
  std::string upstream_text;  // as given, for logs
  // --listen (default 0.0.0.0:8080) and --admin (default 0.0.0.0:9901)
  SocketAddress listen{"0.0.0.0", 8080};
  SocketAddress admin{"0.0.0.0", 9901};
  // --store rocksdb:PATH | redis://... (default rocksdb:./dedup-data)
  std::string store = "rocksdb:./dedup-data";
  // Redis store only: --redis-prefix (default "dedup:") before every key, so
  // many services can share one Redis; --redis-connect-timeout and
  // --redis-command-timeout (default 1s each).
  std::string redis_prefix = "dedup:";
  std::chrono::milliseconds redis_connect_timeout{std::chrono::seconds(1)};
  std::chrono::milliseconds redis_command_timeout{std::chrono::seconds(1)};
  // --key SPEC|PRESET (default header:Idempotency-Key): a key spec, or a
  // preset name (adapters/preset.h), which also brings the sender's profile
  std::string key = "header:Idempotency-Key";
  // --require-key: a dedup request without a key gets 400 (default: forwarded
  // untouched)
  bool require_key = false;
  // --ttl (default 24h): how long a committed key is remembered
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  // --lease (default upstream_timeout + 5s): how long an in-flight delivery
  // holds its key before a redelivery may take it over
  std::chrono::milliseconds lease{0};
  // --upstream-timeout (default 30s): the app's whole answer must arrive in it
  std::chrono::milliseconds upstream_timeout{std::chrono::seconds(30)};
  // --upstream-protocol http1|h2c (default http1): how the proxy talks to the app
  UpstreamProtocol upstream_protocol = UpstreamProtocol::kHttp1;
  // --upstream-timeout-policy release|hold (default release)
  UpstreamTimeoutPolicy upstream_timeout_policy = UpstreamTimeoutPolicy::kRelease;
  // --on-store-error fail-closed|fail-open (default fail-closed: 503)
  StoreErrorPolicy on_store_error = StoreErrorPolicy::kFailClosed;
  // --workers (default 0: the CPUs available to the process, cgroup quota
  // respected)
  int workers = 0;
  // --max-stored-body (default 64KiB): longer app bodies are committed but
  // not replayed (the replay carries the status and no body)
  uint64_t max_stored_body = 64 * 1024;
  // --max-header-size (default 64KiB, → 431) and --max-body-size (default
  // 8MiB, → 413), for downstream requests; upstream bodies share the limit.
  uint64_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  // --header-timeout (default 10s): a request's headers must arrive within it
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // --idle-timeout (default 60s): a keep-alive connection with nothing to do
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // --drain-timeout (default 20s): on SIGTERM, how long in-flight deliveries
  // may take to finish
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(20)};
  // --upstream-max-connections (default 64): per worker
  int upstream_max_connections = 64;
  // --admin-token (default empty: the admin key API is off). With a token,
  // /keys/... on the admin port answers requests carrying
  // "Authorization: Bearer TOKEN".
  std::string admin_token;
  // --log-level debug|info|warn|error (default info), --log-format logfmt|json
  std::string log_level = "info";
  std::string log_format = "logfmt";
  // The YAML file's `routes:`; empty: one route, "default", for every request.
  std::vector<RouteConfig> routes;

  // The lease in force (lease, or upstream_timeout + 5s when unset).
  std::chrono::milliseconds effectiveLease() const {
    return lease.count() > 0 ? lease : upstream_timeout + std::chrono::seconds(5);
  }
};

}  // namespace dedup
