// Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only,
// so a proxy removes them before forwarding: Connection and every header it
// names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
// Upgrade, and Content-Length (the proxy re-frames bodies itself).
#pragma once

#include "common/http_message.h"

namespace dedup::http1 {

void stripHopByHopHeaders(Headers& headers);

}  // namespace dedup::http1
