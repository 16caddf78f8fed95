// `body-sha256`: the key is the lowercase hex SHA-256 of the request body.
#pragma once

#include "adapters/key_extractor.h"

namespace dedup {

class BodySha256KeyExtractor : public KeyExtractor {
 public:
  ExtractedKey extract(const Request& request) const override;
  std::string spec() const override { return "body-sha256"; }
};

}  // namespace dedup
