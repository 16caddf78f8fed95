// Parsers for the address-like settings of Config (config.h). Internal to
// proxy/: used by loadConfig() and by tests. An error's message says what is
// wrong and quotes the text ("missing port ... ('127.0.0.1')"); the caller
// puts the setting's name in front. Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "common/status.h"
#include "proxy/config/config.h"

namespace dedup {

// "HOST:PORT", "[IPV6]:PORT", or ":PORT" (host 0.0.0.0). HOST is an IP
// address: the proxy binds it, it does not resolve names. PORT 0..65535 (0:
// any free port).
StatusOr<SocketAddress> parseSocketAddress(std::string_view text);

// "http://HOST[:PORT][/]": HOST is a name, an IPv4 address or a bracketed
// IPv6 address; PORT 1..65535, default 80. host_header becomes "HOST:PORT".
// https is refused: the app sits on loopback next to the proxy.
StatusOr<UpstreamUrl> parseUpstreamUrl(std::string_view text);

}  // namespace dedup
