// KeyExtractor: how one kind of sender names a message. Built once from a key
// spec ("header:Idempotency-Key", ...) and then used from every worker
// thread at once, so extract() must be const and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/http_message.h"
#include "common/sha256.h"
#include "common/status.h"

namespace dedup {

struct ExtractedKey {
  enum class Kind {
    kFound,    // `key` holds the message's key
    kMissing,  // the request names no key
    kInvalid,  // a key is there but unusable (too long, bad characters); `error` says why
  };
  Kind kind = Kind::kMissing;
  std::string key;
  std::string error;

  static ExtractedKey found(std::string key) { return {Kind::kFound, std::move(key), {}}; }
  static ExtractedKey missing() { return {Kind::kMissing, {}, {}}; }
  static ExtractedKey invalid(std::string why) { return {Kind::kInvalid, {}, std::move(why)}; }
};

class KeyExtractor {
 public:
  virtual ~KeyExtractor() = default;
  virtual ExtractedKey extract(const Request& request) const = 0;
  // The payload fingerprint of a request whose key this extractor found: two
  // deliveries of one key with different fingerprints are a mismatch. By
  // default the body's bytes; an extractor whose messages travel in several
  // encodings (CloudEvents binary and structured mode) digests the message
  // itself, so one message in either encoding has one fingerprint.
  virtual Sha256Digest fingerprint(const Request& request) const { return sha256(request.body); }
  // The spec it was built from, for logs and --check-config.
  virtual std::string spec() const = 0;
};
using KeyExtractorPtr = std::unique_ptr<KeyExtractor>;

// Longest key accepted; longer keys are kInvalid.
inline constexpr size_t kMaxKeyLength = 512;

// Builds an extractor from a spec; a clear InvalidArgument for unknown specs.
StatusOr<KeyExtractorPtr> makeKeyExtractor(std::string_view spec);

}  // namespace dedup
