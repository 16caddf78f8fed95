// `json:/json/pointer`: the key is the string or integer the RFC 6901 pointer
// names in a JSON request body (parsed and fully validated with simdjson DOM).
#pragma once

#include <initializer_list>
#include <vector>

#include "adapters/key_extractor.h"

namespace dedup {

class JsonKeyExtractor : public KeyExtractor {
 public:
  // `pointer` must be valid (see validJsonPointer).
  explicit JsonKeyExtractor(std::string pointer) : pointer_(std::move(pointer)) {}
  ExtractedKey extract(const Request& request) const override;
  std::string spec() const override { return "json:" + pointer_; }

 private:
  std::string pointer_;
};

// True for a non-empty RFC 6901 pointer: starts with '/', `~` only as ~0 or ~1.
bool validJsonPointer(std::string_view pointer);

// Looks up each pointer in one parse of `body`: a string → itself, an integer
// → its decimal text, absent → kMissing, any other type or a body that is not
// JSON → kInvalid; with `strings_only`, integers are kInvalid too. Values pass
// checkDerivedKey. Thread-safe (one thread_local parser per thread).
std::vector<ExtractedKey> extractJsonValues(std::string_view body,
                                            std::initializer_list<std::string_view> pointers,
                                            bool strings_only = false);

}  // namespace dedup
