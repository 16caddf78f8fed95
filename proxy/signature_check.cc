#include "proxy/signature_check.h"

#include <atomic>
#include <chrono>
#include <string>

#include "common/log.h"
#include "proxy/local_response.h"

namespace dedup {
namespace {

// At most one line per second for the whole process: a flood of forgeries
// must not become a flood of log lines. The next line says how many were
// left out.
std::atomic<int64_t> last_logged_second{0};
std::atomic<uint64_t> unlogged_failures{0};

bool claimLogLine(int64_t now) {
  int64_t last = last_logged_second.load(std::memory_order_relaxed);
  return last != now &&
         last_logged_second.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

}  // namespace

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
  if (claimLogLine(now)) {
    const std::string unlogged =
        std::to_string(unlogged_failures.exchange(0, std::memory_order_relaxed));
    LOG_WARN("signature check failed: answered 401, the key was not looked at",
             {"route", route.name}, {"scheme", route.signature->scheme()}, {"check", result},
             {"detail", check.detail}, {"peer", peer_address}, {"unlogged_before", unlogged});
  } else {
    unlogged_failures.fetch_add(1, std::memory_order_relaxed);
  }
  Response response =
      problemResponse(401, "signature " + std::string(result) + " (" +
                               std::string(route.signature->scheme()) + "): " + check.detail);
  response.headers.add("WWW-Authenticate",
                       "Signature scheme=\"" + std::string(route.signature->scheme()) + "\"");
  return response;
}

}  // namespace dedup
