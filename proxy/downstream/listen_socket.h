// Sockets the process listens on and the app's address, set up once at
// start-up on the main thread (the only place that may block on DNS).
#pragma once

#include "common/status.h"
#include "proxy/config/config.h"
#include "proxy/upstream/upstream_pool.h"

namespace dedup {

// A non-blocking listening TCP socket bound to `address`; `bound` receives
// the address actually bound (the real port when port 0 was asked).
StatusOr<int> openListenSocket(const SocketAddress& address, SocketAddress* bound);
// Resolves the app's host into `options->address`.
Status resolveUpstream(const UpstreamUrl& url, UpstreamOptions* options);

}  // namespace dedup
