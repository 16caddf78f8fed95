#include "adapters/slack_signature.h"

#include "common/encoding.h"
#include "common/hmac.h"

namespace dedup {

SignatureCheck SlackSignature::verify(const Request& request, const SigningKeys& keys,
                                      int64_t now) const {
  using Result = SignatureCheck::Result;
  bool signature_duplicated = false;
  bool timestamp_duplicated = false;
  const std::string* header =
      signature::singleHeader(request, "X-Slack-Signature", &signature_duplicated);
  const std::string* timestamp_text =
      signature::singleHeader(request, "X-Slack-Request-Timestamp", &timestamp_duplicated);
  if (header == nullptr)
    return SignatureCheck::fail(Result::kMissing, "no X-Slack-Signature header");
  if (timestamp_text == nullptr) {
    return SignatureCheck::fail(Result::kMissing, "no X-Slack-Request-Timestamp header");
  }
  if (signature_duplicated || timestamp_duplicated) {
    return SignatureCheck::fail(Result::kMalformed,
                                "more than one X-Slack-Signature or X-Slack-Request-Timestamp");
  }
  const std::optional<int64_t> timestamp = signature::parseTimestamp(*timestamp_text);
  if (!timestamp) {
    return SignatureCheck::fail(Result::kMalformed,
                                "X-Slack-Request-Timestamp is not a Unix timestamp");
  }
  const std::string_view text(*header);
  std::optional<std::string> given;
  if (text.substr(0, 3) == "v0=") given = decodeHex(text.substr(3));
  if (!given || given->size() != Sha256Digest().size()) {
    return SignatureCheck::fail(Result::kMalformed,
                                "X-Slack-Signature is not v0= followed by 64 hex digits");
  }
  bool matched = false;
  for (const std::string& key : keys) {
    if (digestEquals(hmacSha256(key, {"v0:", *timestamp_text, ":", request.body}), *given)) {
      matched = true;
      break;
    }
  }
  if (!matched) {
    return SignatureCheck::fail(Result::kMismatch,
                                "X-Slack-Signature does not match the body with any configured "
                                "secret");
  }
  if (!signature::fresh(*timestamp, now, tolerance_)) {
    return SignatureCheck::fail(Result::kStale, "X-Slack-Request-Timestamp is more than " +
                                                    std::to_string(tolerance_.count()) +
                                                    "s from now");
  }
  return SignatureCheck::valid();
}

}  // namespace dedup
