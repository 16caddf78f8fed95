// The signature check of a route (route.h), run by Delivery before the key
// is extracted: a request that fails it never reaches the dedup store or the
// app. Thread-safety: reads the route (immutable) and its current key set
// (a snapshot, swapped whole on SIGHUP); safe from any worker.
#pragma once

#include <optional>
#include <string_view>

#include "common/http_message.h"
#include "proxy/config/route.h"

namespace dedup {

// Unset when the route verifies nothing or the signature is valid; otherwise
// the 401 to answer (problem+json saying which check failed). The failure is
// logged with the route, the check and the peer, never the body or a secret
// (at most one line a second, through log::RateLimit: lines left out are
// counted as suppressed log lines, and every failure as a bad_signature
// outcome).
std::optional<Response> refuseBadSignature(const Route& route, const Request& request,
                                           std::string_view peer_address);

}  // namespace dedup
