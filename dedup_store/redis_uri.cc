#include "dedup_store/redis_uri.h"

#include <charconv>

namespace dedup {
namespace {

constexpr int kSentinelPort = 26379;

bool parseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// host, host:port, [v6], [v6]:port → address, or an error text.
std::string parseHostPort(std::string_view text, int default_port, RedisAddress& out) {
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return "unclosed [";
    host = text.substr(1, close - 1);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "want [HOST]:PORT";
      port = after.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    has_port = true;
  }
  if (host.empty()) return "no host";
  out.host = std::string(host);
  out.port = default_port;
  if (has_port && (!parseInt(port, out.port) || out.port < 1 || out.port > 65535)) {
    return "the port must be a number in 1..65535";
  }
  return "";
}

// "/DB" or "" → db, or an error text.
std::string parseDb(std::string_view text, int& db) {
  if (text.empty()) return "";
  if (!parseInt(text, db) || db < 0) return "the database must be a number (/DB)";
  return "";
}

// user:pass@ in front of `authority` → credentials; `authority` loses it.
std::string takeCredentials(std::string_view& authority, RedisOptions& options) {
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return "";
  const std::string_view userinfo = authority.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return "credentials must be USER:PASS@ or :PASS@";
  options.username = std::string(userinfo.substr(0, colon));
  options.password = std::string(userinfo.substr(colon + 1));
  authority = authority.substr(at + 1);
  return "";
}

std::string parseServer(std::string_view rest, RedisOptions& options) {
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.size() < rest.size()) {
    if (std::string e = parseDb(rest.substr(authority.size() + 1), options.db); !e.empty()) {
      return e;
    }
  }
  if (std::string e = takeCredentials(authority, options); !e.empty()) return e;
  RedisAddress address;
  if (std::string e = parseHostPort(authority, 6379, address); !e.empty()) return e;
  options.host = address.host;
  options.port = address.port;
  return "";
}

// host[:port][,host[:port]…] → addresses, or an error text.
std::string parseHostList(std::string_view list, int default_port, const std::string& what,
                          std::vector<RedisAddress>& out) {
  while (true) {
    const std::string_view one = list.substr(0, list.find(','));
    RedisAddress address;
    if (std::string e = parseHostPort(one, default_port, address); !e.empty()) {
      return what + " \"" + std::string(one) + "\": " + e;
    }
    out.push_back(std::move(address));
    if (one.size() == list.size()) break;
    list = list.substr(one.size() + 1);
  }
  return "";
}

std::string parseSentinel(std::string_view rest, RedisOptions& options) {
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.size() == rest.size()) return "no master name (…/MASTER)";
  std::string_view path = rest.substr(authority.size() + 1);
  const std::string_view name = path.substr(0, path.find('/'));
  if (name.empty()) return "no master name (…/MASTER)";
  options.master_name = std::string(name);
  if (name.size() < path.size()) {
    if (std::string e = parseDb(path.substr(name.size() + 1), options.db); !e.empty()) return e;
  }
  if (std::string e = takeCredentials(authority, options); !e.empty()) return e;
  return parseHostList(authority, kSentinelPort, "sentinel", options.sentinels);
}

std::string parseCluster(std::string_view rest, RedisOptions& options) {
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.size() < rest.size() && rest.substr(authority.size()) != "/" &&
      rest.substr(authority.size()) != "/0") {
    return "a cluster has database 0 only (no /DB)";
  }
  if (std::string e = takeCredentials(authority, options); !e.empty()) return e;
  return parseHostList(authority, 6379, "node", options.cluster_seeds);
}

}  // namespace

StatusOr<RedisOptions> parseRedisUri(std::string_view uri) {
  const std::string quoted = "store URI \"" + std::string(uri) + "\": ";
  if (uri.starts_with("rediss://")) {
    return Status::InvalidArgument(quoted +
                                   "rediss:// (TLS) is not supported: Debian's hiredis "
                                   "0.14 has no TLS");
  }
  constexpr std::string_view kServer = "redis://", kSentinel = "redis-sentinel://",
                             kCluster = "redis-cluster://";
  RedisOptions options;
  std::string error;
  if (uri.starts_with(kServer)) {
    error = parseServer(uri.substr(kServer.size()), options);
  } else if (uri.starts_with(kSentinel)) {
    error = parseSentinel(uri.substr(kSentinel.size()), options);
  } else if (uri.starts_with(kCluster)) {
    error = parseCluster(uri.substr(kCluster.size()), options);
  } else {
    error = "want redis://, redis-sentinel:// or redis-cluster://";
  }
  if (!error.empty()) return Status::InvalidArgument(quoted + error);
  return options;
}

}  // namespace dedup
