// `header:NAME`: the key is the value of one request header.
#pragma once

#include "adapters/key_extractor.h"

namespace dedup {

class HeaderKeyExtractor : public KeyExtractor {
 public:
  explicit HeaderKeyExtractor(std::string header_name) : header_name_(std::move(header_name)) {}
  ExtractedKey extract(const Request& request) const override;
  std::string spec() const override { return "header:" + header_name_; }

 private:
  std::string header_name_;
};

}  // namespace dedup
