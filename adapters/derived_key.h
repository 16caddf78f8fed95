// Checks shared by extractors that derive a key from the body, the query or
// several headers: the key is echoed back in a header and stored, so it must
// be short and free of control characters. Thread-safety: free functions.
#pragma once

#include <string>
#include <string_view>

#include "adapters/key_extractor.h"

namespace dedup {

// kFound(value) when `value` has no control character (< 0x20, 0x7f) and fits
// kMaxKeyLength; kMissing when empty; else kInvalid naming `what`.
ExtractedKey checkDerivedKey(std::string_view what, std::string value);

// kInvalid naming `what` when `key` is longer than kMaxKeyLength, else kFound.
ExtractedKey checkKeyLength(std::string_view what, std::string key);

}  // namespace dedup
