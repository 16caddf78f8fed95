#include "adapters/derived_key.h"

namespace dedup {

ExtractedKey checkKeyLength(std::string_view what, std::string key) {
  if (key.size() > kMaxKeyLength) {
    return ExtractedKey::invalid(std::string(what) + " is longer than " +
                                 std::to_string(kMaxKeyLength) + " bytes");
  }
  return ExtractedKey::found(std::move(key));
}

ExtractedKey checkDerivedKey(std::string_view what, std::string value) {
  if (value.empty()) return ExtractedKey::missing();
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return ExtractedKey::invalid(std::string(what) + " has a control character");
    }
  }
  return checkKeyLength(what, std::move(value));
}

}  // namespace dedup
