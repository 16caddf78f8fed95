// Specs built from other specs:
//   `A+B+...`  AllOfKeyExtractor: every part found; key = parts joined by "\n".
//   `A|B|...`  FirstOfKeyExtractor: the first part found wins; a kInvalid part
//              stops the chain.
// `|` binds looser than `+`: "a|b+c" is "a" or else ("b" and "c").
#pragma once

#include <vector>

#include "adapters/key_extractor.h"

namespace dedup {

class AllOfKeyExtractor : public KeyExtractor {
 public:
  AllOfKeyExtractor(std::string spec, std::vector<KeyExtractorPtr> parts)
      : spec_(std::move(spec)), parts_(std::move(parts)) {}
  ExtractedKey extract(const Request& request) const override;
  std::string spec() const override { return spec_; }

 private:
  std::string spec_;
  std::vector<KeyExtractorPtr> parts_;
};

class FirstOfKeyExtractor : public KeyExtractor {
 public:
  FirstOfKeyExtractor(std::string spec, std::vector<KeyExtractorPtr> parts)
      : spec_(std::move(spec)), parts_(std::move(parts)) {}
  ExtractedKey extract(const Request& request) const override;
  // The fingerprint of the part that finds the key.
  Sha256Digest fingerprint(const Request& request) const override;
  std::string spec() const override { return spec_; }

 private:
  std::string spec_;
  std::vector<KeyExtractorPtr> parts_;
};

}  // namespace dedup
