#include "adapters/body_hmac_signature.h"

#include "common/encoding.h"
#include "common/hmac.h"

namespace dedup {

SignatureCheck BodyHmacSignature::verify(const Request& request, const SigningKeys& keys,
                                         int64_t /*now*/) const {
  using Result = SignatureCheck::Result;
  bool duplicated = false;
  const std::string* value = signature::singleHeader(request, header_, &duplicated);
  if (value == nullptr) return SignatureCheck::fail(Result::kMissing, "no " + header_ + " header");
  if (duplicated) return SignatureCheck::fail(Result::kMalformed, "more than one " + header_);
  const std::string_view text(*value);
  if (text.substr(0, prefix_.size()) != prefix_) {
    return SignatureCheck::fail(Result::kMalformed, header_ + " does not start with " + prefix_);
  }
  const std::string_view encoded = text.substr(prefix_.size());
  const std::optional<std::string> given =
      encoding_ == Encoding::kHex ? decodeHex(encoded) : decodeBase64(encoded);
  if (!given || given->size() != Sha256Digest().size()) {
    return SignatureCheck::fail(Result::kMalformed,
                                header_ + " is not an HMAC-SHA256 in " +
                                    (encoding_ == Encoding::kHex ? "hex (64 digits)" : "base64"));
  }
  for (const std::string& key : keys) {
    if (digestEquals(hmacSha256(key, {request.body}), *given)) return SignatureCheck::valid();
  }
  return SignatureCheck::fail(Result::kMismatch,
                              header_ + " does not match the body with any configured secret");
}

std::shared_ptr<const SignatureVerifier> makeGithubSignature() {
  return std::make_shared<BodyHmacSignature>("github", "X-Hub-Signature-256",
                                             "sha256=", BodyHmacSignature::Encoding::kHex);
}

std::shared_ptr<const SignatureVerifier> makeShopifySignature() {
  return std::make_shared<BodyHmacSignature>("shopify", "X-Shopify-Hmac-Sha256", "",
                                             BodyHmacSignature::Encoding::kBase64);
}

}  // namespace dedup
