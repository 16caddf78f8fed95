// standard-webhooks (https://www.standardwebhooks.com, Svix and the senders
// built on it): webhook-id, webhook-timestamp (unix seconds) and
// webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>">"; any v1 may match, other versions (v1a: an
// asymmetric signature) are ignored. Svix's own names (svix-id,
// svix-timestamp, svix-signature) are read when webhook-signature is absent.
// The secret is "whsec_" + base64 of the key; the key is the decoded bytes.
// Thread-safety: immutable after construction.
#pragma once

#include <chrono>

#include "adapters/signature_verifier.h"

namespace dedup {

class StandardWebhooksSignature : public SignatureVerifier {
 public:
  explicit StandardWebhooksSignature(std::chrono::seconds tolerance) : tolerance_(tolerance) {}
  SignatureCheck verify(const Request& request, const SigningKeys& keys,
                        int64_t now) const override;
  StatusOr<std::string> signingKey(std::string_view secret) const override;
  std::string_view scheme() const override { return "standard-webhooks"; }
  std::string headers() const override {
    return "webhook-id, webhook-timestamp, webhook-signature (or svix-*)";
  }

 private:
  std::chrono::seconds tolerance_;
};

}  // namespace dedup
