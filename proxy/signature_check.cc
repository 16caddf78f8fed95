#include "proxy/signature_check.h"

#include <chrono>
#include <string>

#include "common/log.h"
#include "proxy/local_response.h"

namespace dedup {

std::optional<Response> refuseBadSignature(const Route& route, const Request& request,
                                           std::string_view peer_address) {
  if (!route.signature) return std::nullopt;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // The snapshot stays valid for this check even if SIGHUP swaps the keys.
  const std::shared_ptr<const SigningKeys> keys = route.signing_keys->keys();
  const SignatureCheck check = route.signature->verify(request, *keys, now);
  if (check.ok()) return std::nullopt;
  const std::string_view result = signatureResultName(check.result);
  // A flood of forgeries must not become a flood of log lines: one a second
  // (the bad_signature outcome counts them all).
  static log::RateLimit failure_lines(1);
  LOG_LIMITED(failure_lines, log::Level::kWarn,
              "signature check failed: answered 401, the key was not looked at",
              {"route", route.name}, {"scheme", route.signature->scheme()}, {"check", result},
              {"detail", check.detail}, {"peer", peer_address});
  Response response =
      problemResponse(401, "signature " + std::string(result) + " (" +
                               std::string(route.signature->scheme()) + "): " + check.detail);
  response.headers.add("WWW-Authenticate",
                       "Signature scheme=\"" + std::string(route.signature->scheme()) + "\"");
  return response;
}

}  // namespace dedup
