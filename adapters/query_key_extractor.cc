#include "adapters/query_key_extractor.h"

#include <optional>

#include "adapters/derived_key.h"
#include "common/encoding.h"

namespace dedup {
namespace {

// application/x-www-form-urlencoded decoding; nullopt on a bad %-escape.
std::optional<std::string> formDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexDigitValue(text[i + 1]);
      const int lo = hexDigitValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

}  // namespace

ExtractedKey QueryKeyExtractor::extract(const Request& request) const {
  std::string_view target = request.target;
  const size_t fragment = target.find('#');
  if (fragment != std::string_view::npos) target = target.substr(0, fragment);
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return ExtractedKey::missing();
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::optional<std::string> name = formDecode(raw_name);
    if (!(name ? *name == name_ : raw_name == name_)) continue;
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::optional<std::string> value = formDecode(raw_value);
    if (!value) {
      return ExtractedKey::invalid("query parameter " + name_ + " has a bad %-escape");
    }
    return checkDerivedKey("query parameter " + name_, std::move(*value));
  }
  return ExtractedKey::missing();
}

}  // namespace dedup
