#include "adapters/header_key_extractor.h"

namespace dedup {

ExtractedKey HeaderKeyExtractor::extract(const Request& request) const {
  if (request.headers.count(header_name_) > 1) {
    return ExtractedKey::invalid("more than one " + header_name_ + " header");
  }
  const std::string* value = request.headers.find(header_name_);
  if (value == nullptr || value->empty()) return ExtractedKey::missing();
  if (value->size() > kMaxKeyLength) {
    return ExtractedKey::invalid(header_name_ + " is longer than " + std::to_string(kMaxKeyLength) +
                                 " bytes");
  }
  for (unsigned char c : *value) {
    // Visible ASCII only: a key is echoed back in the Dedup-Key header.
    if (c < 0x21 || c > 0x7e) {
      return ExtractedKey::invalid(header_name_ + " has a character outside visible ASCII");
    }
  }
  return ExtractedKey::found(*value);
}

}  // namespace dedup
