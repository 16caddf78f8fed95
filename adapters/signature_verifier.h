// SignatureVerifier: checks that a request was signed by its sender, before
// the dedup store sees its key. Without it, anyone who can reach the proxy
// and guess a message id could hold the key's lease (the real delivery gets
// 409) or commit it (the real delivery is answered from the store and never
// reaches the app).
//
// One implementation per scheme (stripe, github, standard-webhooks, shopify,
// slack), each an HMAC-SHA256 over the raw body (and, for some, a timestamp
// and an id), compared in constant time. Built once per route from config,
// then used by every worker at once: verify() is const and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_message.h"
#include "common/status.h"

namespace dedup {

// The HMAC keys a request may have been signed with (several while a secret
// is rotated); any one of them passes.
using SigningKeys = std::vector<std::string>;

struct SignatureCheck {
  enum class Result {
    kValid,
    kMissing,    // a header the scheme needs is absent
    kMalformed,  // present but unreadable (not hex, wrong length, no timestamp, ...)
    kStale,      // a genuine signature whose timestamp is outside the tolerance
    kMismatch,   // well-formed, but no key produces it: forged or another secret
  };
  Result result = Result::kValid;
  // What failed, for the 401 body and the log: names headers and checks,
  // never a secret, a MAC or the body.
  std::string detail;

  bool ok() const { return result == Result::kValid; }
  static SignatureCheck valid() { return {}; }
  static SignatureCheck fail(Result result, std::string detail) {
    return {result, std::move(detail)};
  }
};
// "missing", "malformed", "stale", "mismatch" ("valid").
std::string_view signatureResultName(SignatureCheck::Result result);

class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  // Checks the request's headers and body (the raw bytes received) against
  // each key. `now` is the current Unix time in seconds, for timestamped
  // schemes.
  virtual SignatureCheck verify(const Request& request, const SigningKeys& keys,
                                int64_t now) const = 0;
  // The HMAC key one line of the secret file stands for: the line itself,
  // except for schemes that encode their secrets (standard-webhooks). The
  // error never quotes the secret.
  virtual StatusOr<std::string> signingKey(std::string_view secret) const {
    return std::string(secret);
  }
  virtual std::string_view scheme() const = 0;
  // The request headers it reads, for --check-config: "Stripe-Signature".
  virtual std::string headers() const = 0;
};
using SignatureVerifierPtr = std::shared_ptr<const SignatureVerifier>;

// How far a signed timestamp may be from now, either way, unless configured.
inline constexpr std::chrono::seconds kDefaultSignatureTolerance{300};

// The verifier of `scheme`; InvalidArgument naming the known schemes.
// `tolerance` applies to schemes that sign a timestamp.
StatusOr<SignatureVerifierPtr> makeSignatureVerifier(std::string_view scheme,
                                                     std::chrono::seconds tolerance);
// "stripe, github, standard-webhooks, shopify, slack": for messages.
std::string signatureSchemeNames();

// Shared by the schemes.
namespace signature {

// A Unix timestamp in seconds: 1 to 12 decimal digits, nothing else.
std::optional<int64_t> parseTimestamp(std::string_view text);
// Whether `timestamp` is within `tolerance` of `now`, in the past or future.
bool fresh(int64_t timestamp, int64_t now, std::chrono::seconds tolerance);
// The one value of header `name`: nullptr when absent; `*duplicated` set
// when it appears more than once (a request must not carry two signatures
// that the proxy and the app might read differently).
const std::string* singleHeader(const Request& request, std::string_view name, bool* duplicated);

}  // namespace signature

}  // namespace dedup
