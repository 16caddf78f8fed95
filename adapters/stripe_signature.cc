#include "adapters/stripe_signature.h"

#include <vector>

#include "common/encoding.h"
#include "common/hmac.h"

namespace dedup {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

SignatureCheck StripeSignature::verify(const Request& request, const SigningKeys& keys,
                                       int64_t now) const {
  using Result = SignatureCheck::Result;
  bool duplicated = false;
  const std::string* header = signature::singleHeader(request, "Stripe-Signature", &duplicated);
  if (header == nullptr)
    return SignatureCheck::fail(Result::kMissing, "no Stripe-Signature header");
  if (duplicated) return SignatureCheck::fail(Result::kMalformed, "more than one Stripe-Signature");

  std::optional<std::string_view> timestamp_text;
  std::vector<std::string> signatures;
  std::string_view rest(*header);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = item.substr(0, equals);
    const std::string_view value = item.substr(equals + 1);
    if (name == "t" && !timestamp_text) {
      timestamp_text = value;
    } else if (name == "v1") {
      std::optional<std::string> bytes = decodeHex(value);
      if (bytes && bytes->size() == Sha256Digest().size()) signatures.push_back(std::move(*bytes));
    }
  }
  if (!timestamp_text) {
    return SignatureCheck::fail(Result::kMalformed, "Stripe-Signature has no t= timestamp");
  }
  const std::optional<int64_t> timestamp = signature::parseTimestamp(*timestamp_text);
  if (!timestamp) {
    return SignatureCheck::fail(Result::kMalformed, "Stripe-Signature t= is not a Unix timestamp");
  }
  if (signatures.empty()) {
    return SignatureCheck::fail(Result::kMalformed,
                                "Stripe-Signature has no v1= signature of 64 hex digits");
  }
  bool matched = false;
  for (const std::string& key : keys) {
    const Sha256Digest expected = hmacSha256(key, {*timestamp_text, ".", request.body});
    for (const std::string& given : signatures) matched |= digestEquals(expected, given);
    if (matched) break;
  }
  if (!matched) {
    return SignatureCheck::fail(
        Result::kMismatch, "no Stripe-Signature v1 matches the body with any configured secret");
  }
  if (!signature::fresh(*timestamp, now, tolerance_)) {
    return SignatureCheck::fail(Result::kStale, "Stripe-Signature timestamp is more than " +
                                                    std::to_string(tolerance_.count()) +
                                                    "s from now");
  }
  return SignatureCheck::valid();
}

}  // namespace dedup
