// Schemes that sign the body alone, with no timestamp, so a captured request
// stays valid for ever (the dedup store then answers its replays):
// - github: X-Hub-Signature-256: sha256=<hex HMAC of the body>
// - shopify: X-Shopify-Hmac-Sha256: <base64 HMAC of the body>
// Thread-safety: immutable after construction.
#pragma once

#include <memory>
#include <string>

#include "adapters/signature_verifier.h"

namespace dedup {

class BodyHmacSignature : public SignatureVerifier {
 public:
  enum class Encoding { kHex, kBase64 };
  // `prefix` precedes the encoded MAC in the header value ("sha256=").
  BodyHmacSignature(std::string scheme, std::string header, std::string prefix, Encoding encoding)
      : scheme_(std::move(scheme)),
        header_(std::move(header)),
        prefix_(std::move(prefix)),
        encoding_(encoding) {}

  SignatureCheck verify(const Request& request, const SigningKeys& keys,
                        int64_t now) const override;
  std::string_view scheme() const override { return scheme_; }
  std::string headers() const override { return header_; }

 private:
  std::string scheme_;
  std::string header_;
  std::string prefix_;
  Encoding encoding_;
};

std::shared_ptr<const SignatureVerifier> makeGithubSignature();
std::shared_ptr<const SignatureVerifier> makeShopifySignature();

}  // namespace dedup
