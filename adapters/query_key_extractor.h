// `query:NAME`: the key is the first query parameter NAME of the request
// target, percent-decoded with `+` as a space.
#pragma once

#include "adapters/key_extractor.h"

namespace dedup {

class QueryKeyExtractor : public KeyExtractor {
 public:
  explicit QueryKeyExtractor(std::string name) : name_(std::move(name)) {}
  ExtractedKey extract(const Request& request) const override;
  std::string spec() const override { return "query:" + name_; }

 private:
  std::string name_;  // compared with each decoded parameter name, case-sensitively
};

}  // namespace dedup
