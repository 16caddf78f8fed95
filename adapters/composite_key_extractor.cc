#include "adapters/composite_key_extractor.h"

#include "adapters/derived_key.h"

namespace dedup {

ExtractedKey AllOfKeyExtractor::extract(const Request& request) const {
  std::string key;
  bool missing = false;
  for (size_t i = 0; i < parts_.size(); ++i) {
    ExtractedKey part = parts_[i]->extract(request);
    if (part.kind == ExtractedKey::Kind::kInvalid) return part;
    if (part.kind == ExtractedKey::Kind::kMissing) missing = true;
    if (missing) continue;  // keep looking for a kInvalid part to report
    if (i > 0) key.push_back('\n');
    key += part.key;
  }
  if (missing) return ExtractedKey::missing();
  return checkKeyLength("key '" + spec_ + "'", std::move(key));
}

ExtractedKey FirstOfKeyExtractor::extract(const Request& request) const {
  for (const KeyExtractorPtr& part : parts_) {
    ExtractedKey key = part->extract(request);
    if (key.kind != ExtractedKey::Kind::kMissing) return key;
  }
  return ExtractedKey::missing();
}

Sha256Digest FirstOfKeyExtractor::fingerprint(const Request& request) const {
  for (const KeyExtractorPtr& part : parts_) {
    if (part->extract(request).kind != ExtractedKey::Kind::kMissing) {
      return part->fingerprint(request);
    }
  }
  return sha256(request.body);
}

}  // namespace dedup
