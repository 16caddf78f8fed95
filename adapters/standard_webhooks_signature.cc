#include "adapters/standard_webhooks_signature.h"

#include <vector>

#include "common/encoding.h"
#include "common/hmac.h"

namespace dedup {

StatusOr<std::string> StandardWebhooksSignature::signingKey(std::string_view secret) const {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix) secret.remove_prefix(kPrefix.size());
  std::optional<std::string> key = decodeBase64(secret);
  if (!key || key->empty()) {
    return Status::InvalidArgument("not a Standard Webhooks secret (whsec_ followed by base64)");
  }
  return std::move(*key);
}

SignatureCheck StandardWebhooksSignature::verify(const Request& request, const SigningKeys& keys,
                                                 int64_t now) const {
  using Result = SignatureCheck::Result;
  // One naming throughout: webhook-*, or svix-* when webhook-signature is absent.
  const bool svix = request.headers.find("webhook-signature") == nullptr &&
                    request.headers.find("svix-signature") != nullptr;
  const std::string prefix = svix ? "svix-" : "webhook-";
  const std::string id_name = prefix + "id";
  const std::string timestamp_name = prefix + "timestamp";
  const std::string signature_name = prefix + "signature";
  bool duplicated[3] = {false, false, false};
  const std::string* id = signature::singleHeader(request, id_name, &duplicated[0]);
  const std::string* timestamp_text =
      signature::singleHeader(request, timestamp_name, &duplicated[1]);
  const std::string* header = signature::singleHeader(request, signature_name, &duplicated[2]);
  for (const auto& [value, name] : {std::pair{header, &signature_name}, std::pair{id, &id_name},
                                    std::pair{timestamp_text, &timestamp_name}}) {
    if (value == nullptr) return SignatureCheck::fail(Result::kMissing, "no " + *name + " header");
  }
  if (duplicated[0] || duplicated[1] || duplicated[2]) {
    return SignatureCheck::fail(Result::kMalformed, "more than one " + prefix + "* header");
  }
  const std::optional<int64_t> timestamp = signature::parseTimestamp(*timestamp_text);
  if (!timestamp) {
    return SignatureCheck::fail(Result::kMalformed, timestamp_name + " is not a Unix timestamp");
  }
  std::vector<std::string> signatures;
  std::string_view rest(*header);
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    const std::string_view item = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (item.substr(0, 3) != "v1,") continue;
    std::optional<std::string> bytes = decodeBase64(item.substr(3));
    if (bytes && bytes->size() == Sha256Digest().size()) signatures.push_back(std::move(*bytes));
  }
  if (signatures.empty()) {
    return SignatureCheck::fail(Result::kMalformed,
                                signature_name + " has no v1,<base64 HMAC-SHA256> signature");
  }
  bool matched = false;
  for (const std::string& key : keys) {
    const Sha256Digest expected = hmacSha256(key, {*id, ".", *timestamp_text, ".", request.body});
    for (const std::string& given : signatures) matched |= digestEquals(expected, given);
    if (matched) break;
  }
  if (!matched) {
    return SignatureCheck::fail(Result::kMismatch, "no " + signature_name +
                                                       " v1 matches the body with any configured "
                                                       "secret");
  }
  if (!signature::fresh(*timestamp, now, tolerance_)) {
    return SignatureCheck::fail(
        Result::kStale,
        timestamp_name + " is more than " + std::to_string(tolerance_.count()) + "s from now");
  }
  return SignatureCheck::valid();
}

}  // namespace dedup
