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
// A route's `signature:` map, or `signature: none`. Unset fields take the
// top-level settings (--signature, --signature-secret-file,
// --signature-tolerance) or the preset's scheme.
struct RouteSignatureConfig {
  bool none = false;  // `signature: none`: this route verifies nothing
  std::string scheme;
  std::string secret_file;
  std::optional<std::chrono::milliseconds> tolerance;
};

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
  std::optional<RouteSignatureConfig> signature;
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
  // --store-timeout (default 5s): RocksDB store: each begin, commit (with its
  // fsync) and release must answer within it, or the delivery gets the
  // store-error answer and /readyz is 503 until the store answers again
  std::chrono::milliseconds store_timeout{std::chrono::seconds(5)};
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
  // not replayed (the replay carries the status and no body); they stream to
  // the sender instead of being buffered
  uint64_t max_stored_body = 64 * 1024;
  // --max-header-size (default 64KiB, → 431) and --max-body-size (default
  // 8MiB, → 413), for downstream requests (the app's header section shares
  // the header limit; its bodies stream, see max_stored_body).
  uint64_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  // --header-timeout (default 10s): a request's headers must arrive within it
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // --body-timeout (default 30s): a request's body must arrive within it,
  // counted from the end of its headers (slow senders get 408 and a close)
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
  // --idle-timeout (default 60s): a keep-alive connection with nothing to do
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // --max-output-buffer (default 256KiB): a downstream connection whose
  // unsent answers exceed it is not read (no new requests) and a streamed
  // body stops pulling from the app until the sender reads
  uint64_t max_output_buffer = 256 * 1024;
  // --write-timeout (default 30s): a downstream connection with unsent
  // answers that takes no bytes for this long is closed
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // --max-connections (default 4096): downstream connections, all workers
  // together; over it a new connection is answered 503 and closed
  int max_connections = 4096;
  // --max-buffered (default 64MiB): bytes held for senders across all
  // connections (requests being read or delivered, answers not yet sent);
  // over it new requests get 503 + Retry-After
  uint64_t max_buffered_bytes = 64 * 1024 * 1024;
  // --drain-timeout (default 20s): on SIGTERM, how long in-flight deliveries
  // may take to finish
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(20)};
  // --upstream-max-connections (default 64): per worker
  int upstream_max_connections = 64;
  // --upstream-max-waiting (default 1024): per worker, requests waiting for a
  // free connection to the app; over it 503 + Retry-After
  int upstream_max_waiting = 1024;
  // Admin port: --admin-max-connections (default 64; over it the port stops
  // accepting until one closes), --admin-timeout (default 10s: a request must
  // arrive, and a connection idle, within it), --admin-keys-remote (default
  // false: /keys/... answers only loopback peers, 403 to others)
  int admin_max_connections = 64;
  std::chrono::milliseconds admin_timeout{std::chrono::seconds(10)};
  bool admin_keys_remote = false;
  // --signature SCHEME (default: the preset's scheme, if any) and
  // --signature-secret-file PATH (default none: nothing is verified). With a
  // secret file, every request a route matches must carry a valid signature
  // of the scheme or gets 401 before its key reaches the store.
  // --signature-tolerance (default 5m): how far a signed timestamp may be
  // from now.
  std::string signature;
  std::string signature_secret_file;
  std::chrono::milliseconds signature_tolerance{std::chrono::minutes(5)};
  // --max-waiters-per-key (default 64), --max-waiters (default 4096): how
  // many duplicates may wait for a delivery in flight (`in_flight: wait`),
  // per key and in the whole process; beyond, the in-flight answer.
  int max_waiters_per_key = 64;
  int max_waiters = 4096;
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
