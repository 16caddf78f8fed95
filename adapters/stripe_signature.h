// stripe: Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]
// Each v1 is the hex HMAC-SHA256, keyed by the endpoint secret as written
// (whsec_... included), of "<t>.<body>"; any v1 may match (Stripe sends
// several while an endpoint secret is being rolled). Other schemes (v0) are
// ignored. t must be within the tolerance of now, either way.
// Thread-safety: immutable after construction.
#pragma once

#include <chrono>

#include "adapters/signature_verifier.h"

namespace dedup {

class StripeSignature : public SignatureVerifier {
 public:
  explicit StripeSignature(std::chrono::seconds tolerance) : tolerance_(tolerance) {}
  SignatureCheck verify(const Request& request, const SigningKeys& keys,
                        int64_t now) const override;
  std::string_view scheme() const override { return "stripe"; }
  std::string headers() const override { return "Stripe-Signature"; }

 private:
  std::chrono::seconds tolerance_;
};

}  // namespace dedup
