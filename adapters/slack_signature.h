// slack: X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">
// with X-Slack-Request-Timestamp: <unix seconds>, keyed by the app's signing
// secret. The timestamp must be within the tolerance of now, either way.
// Thread-safety: immutable after construction.
#pragma once

#include <chrono>

#include "adapters/signature_verifier.h"

namespace dedup {

class SlackSignature : public SignatureVerifier {
 public:
  explicit SlackSignature(std::chrono::seconds tolerance) : tolerance_(tolerance) {}
  SignatureCheck verify(const Request& request, const SigningKeys& keys,
                        int64_t now) const override;
  std::string_view scheme() const override { return "slack"; }
  std::string headers() const override { return "X-Slack-Signature, X-Slack-Request-Timestamp"; }

 private:
  std::chrono::seconds tolerance_;
};

}  // namespace dedup
