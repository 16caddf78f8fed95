#include "adapters/body_sha256_key_extractor.h"

#include "common/sha256.h"

namespace dedup {

ExtractedKey BodySha256KeyExtractor::extract(const Request& request) const {
  if (request.body.empty()) return ExtractedKey::missing();
  const Sha256Digest digest = sha256(request.body);
  return ExtractedKey::found(toHex(digest.data(), digest.size()));
}

}  // namespace dedup
