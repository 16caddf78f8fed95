#include "proxy/config/config.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <string>

#include "proxy/config/config_parse.h"

namespace dedup {
namespace {

Status bad(const std::string& what, std::string_view text) {
  return Status::InvalidArgument(what + " ('" + std::string(text) + "')");
}

bool isIpv4(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool isIpv6(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// RFC 1123 host name characters; the upstream may be "localhost" or a name in
// /etc/hosts.
bool isHostName(std::string_view host) {
  if (host.empty() || host.front() == '.' || host.front() == '-') return false;
  for (const char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

// Decimal 0..65535, nothing else (no sign, no spaces).
bool parsePort(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// Splits "HOST:PORT" / "[V6]:PORT" / "HOST" / "[V6]" into host (brackets
// removed) and port text; has_port tells whether a ':' followed the host.
struct HostPort {
  std::string host;
  bool bracketed = false;
  bool has_port = false;
  std::string_view port;
};

bool splitHostPort(std::string_view text, HostPort& out, std::string& error) {
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      error = "'[' without ']'";
      return false;
    }
    out.host = std::string(text.substr(1, close - 1));
    out.bracketed = true;
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      error = "unexpected text after ']'";
      return false;
    }
  } else {
    const size_t colon = text.rfind(':');
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
    if (out.host.find(':') != std::string::npos) {
      error = "an IPv6 address needs brackets, e.g. [::1]:8080";
      return false;
    }
  }
  out.has_port = !rest.empty();
  if (out.has_port) out.port = rest.substr(1);
  return true;
}

}  // namespace

std::string SocketAddress::toString() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

StatusOr<SocketAddress> parseSocketAddress(std::string_view text) {
  static constexpr char kForms[] = "use HOST:PORT, [IPV6]:PORT or :PORT";
  HostPort parts;
  std::string error;
  if (!splitHostPort(text, parts, error)) return bad(error + " (" + kForms + ")", text);
  if (!parts.has_port) return bad(std::string("missing port (") + kForms + ")", text);
  SocketAddress address;
  if (!parsePort(parts.port, address.port)) return bad("port must be 0 to 65535", text);
  if (parts.bracketed) {
    if (!isIpv6(parts.host)) return bad("not an IPv6 address inside [ ]", text);
  } else if (parts.host.empty()) {
    parts.host = "0.0.0.0";
  } else if (!isIpv4(parts.host)) {
    return bad("host must be an IP address, e.g. 0.0.0.0, 127.0.0.1 or [::1]", text);
  }
  address.host = std::move(parts.host);
  return address;
}

StatusOr<UpstreamUrl> parseUpstreamUrl(std::string_view text) {
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad("not a URL (use http://HOST:PORT)", text);
  std::string scheme(text.substr(0, scheme_end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "https") {
    return bad(
        "https is not supported: TLS to the app is not supported, the app is on loopback "
        "(use http://HOST:PORT)",
        text);
  }
  if (scheme != "http") return bad("only http:// is supported (use http://HOST:PORT)", text);

  std::string_view authority = text.substr(scheme_end + 3);
  const size_t authority_end = authority.find_first_of("/?#");
  if (authority_end != std::string_view::npos) {
    if (authority.substr(authority_end) != "/") {
      return bad("a path, query or fragment is not supported (use http://HOST:PORT)", text);
    }
    authority = authority.substr(0, authority_end);
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info is not supported (use http://HOST:PORT)", text);
  }
  HostPort parts;
  std::string error;
  if (!splitHostPort(authority, parts, error)) return bad(error, text);
  UpstreamUrl url;
  if (parts.has_port && (!parsePort(parts.port, url.port) || url.port == 0)) {
    return bad("port must be 1 to 65535", text);
  }
  if (parts.bracketed ? !isIpv6(parts.host) : !isHostName(parts.host)) {
    return bad(parts.host.empty() ? "missing host" : "not a valid host", text);
  }
  url.host = std::move(parts.host);
  url.host_header =
      (parts.bracketed ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
  return url;
}

}  // namespace dedup
