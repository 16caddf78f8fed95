#include "adapters/signature_verifier.h"

#include <charconv>

#include "adapters/body_hmac_signature.h"
#include "adapters/slack_signature.h"
#include "adapters/standard_webhooks_signature.h"
#include "adapters/stripe_signature.h"

namespace dedup {

std::string_view signatureResultName(SignatureCheck::Result result) {
  switch (result) {
    case SignatureCheck::Result::kValid:
      return "valid";
    case SignatureCheck::Result::kMissing:
      return "missing";
    case SignatureCheck::Result::kMalformed:
      return "malformed";
    case SignatureCheck::Result::kStale:
      return "stale";
    case SignatureCheck::Result::kMismatch:
      return "mismatch";
  }
  return "unknown";
}

StatusOr<SignatureVerifierPtr> makeSignatureVerifier(std::string_view scheme,
                                                     std::chrono::seconds tolerance) {
  if (scheme == "stripe") return SignatureVerifierPtr(std::make_shared<StripeSignature>(tolerance));
  if (scheme == "github") return SignatureVerifierPtr(makeGithubSignature());
  if (scheme == "standard-webhooks") {
    return SignatureVerifierPtr(std::make_shared<StandardWebhooksSignature>(tolerance));
  }
  if (scheme == "shopify") return SignatureVerifierPtr(makeShopifySignature());
  if (scheme == "slack") return SignatureVerifierPtr(std::make_shared<SlackSignature>(tolerance));
  return Status::InvalidArgument("unknown signature scheme '" + std::string(scheme) +
                                 "' (known: " + signatureSchemeNames() + ")");
}

std::string signatureSchemeNames() { return "stripe, github, standard-webhooks, shopify, slack"; }

namespace signature {

std::optional<int64_t> parseTimestamp(std::string_view text) {
  if (text.empty() || text.size() > 12 || text[0] < '0' || text[0] > '9') return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

bool fresh(int64_t timestamp, int64_t now, std::chrono::seconds tolerance) {
  const int64_t distance = timestamp > now ? timestamp - now : now - timestamp;
  return distance <= tolerance.count();
}

const std::string* singleHeader(const Request& request, std::string_view name, bool* duplicated) {
  *duplicated = request.headers.count(name) > 1;
  return request.headers.find(name);
}

}  // namespace signature

}  // namespace dedup
