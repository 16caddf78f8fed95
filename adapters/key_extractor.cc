#include "adapters/key_extractor.h"

#include <vector>

#include "adapters/body_sha256_key_extractor.h"
#include "adapters/cloudevents_key_extractor.h"
#include "adapters/composite_key_extractor.h"
#include "adapters/header_key_extractor.h"
#include "adapters/json_key_extractor.h"
#include "adapters/query_key_extractor.h"

namespace dedup {
namespace {

constexpr std::string_view kSupported =
    "header:NAME, query:NAME, json:/POINTER, body-sha256, cloudevents, A+B, A|B";

bool hasPrefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// One spec without `+` or `|`.
StatusOr<KeyExtractorPtr> makeSimple(std::string_view spec) {
  constexpr std::string_view kHeader = "header:";
  constexpr std::string_view kQuery = "query:";
  constexpr std::string_view kJson = "json:";
  if (hasPrefix(spec, kHeader)) {
    const std::string_view name = spec.substr(kHeader.size());
    if (name.empty() || name.find_first_of(" :\t\r\n") != std::string_view::npos) {
      return Status::InvalidArgument("'" + std::string(spec) + "' has no valid header name");
    }
    return KeyExtractorPtr(std::make_unique<HeaderKeyExtractor>(std::string(name)));
  }
  if (hasPrefix(spec, kQuery)) {
    const std::string_view name = spec.substr(kQuery.size());
    bool valid = !name.empty();
    for (unsigned char c : name)
      valid =
          valid && c > 0x20 && c < 0x7f && c != '&' && c != '=' && c != '#' && c != '?' && c != '%';
    if (!valid) {
      return Status::InvalidArgument("'" + std::string(spec) +
                                     "' has no valid query parameter name");
    }
    return KeyExtractorPtr(std::make_unique<QueryKeyExtractor>(std::string(name)));
  }
  if (hasPrefix(spec, kJson)) {
    const std::string_view pointer = spec.substr(kJson.size());
    if (!validJsonPointer(pointer)) {
      return Status::InvalidArgument("'" + std::string(spec) +
                                     "' has no valid JSON pointer (RFC 6901: starts with '/', "
                                     "'~' only as ~0 or ~1)");
    }
    return KeyExtractorPtr(std::make_unique<JsonKeyExtractor>(std::string(pointer)));
  }
  if (spec == "body-sha256") return KeyExtractorPtr(std::make_unique<BodySha256KeyExtractor>());
  if (spec == "cloudevents") return KeyExtractorPtr(std::make_unique<CloudEventsKeyExtractor>());
  return Status::InvalidArgument("unknown key spec '" + std::string(spec) +
                                 "' (supported: " + std::string(kSupported) + ")");
}

// Parts of `spec` split on `separator`, each built by `make`.
template <typename Make>
StatusOr<std::vector<KeyExtractorPtr>> makeParts(std::string_view spec, char separator, Make make) {
  std::vector<KeyExtractorPtr> parts;
  for (std::string_view text : split(spec, separator)) {
    StatusOr<KeyExtractorPtr> part = make(text);
    if (!part.ok()) return part.status();
    parts.push_back(std::move(part).value());
  }
  return parts;
}

// One alternative of a `|` chain: a simple spec or `A+B+...`.
StatusOr<KeyExtractorPtr> makeAllOf(std::string_view spec) {
  if (spec.find('+') == std::string_view::npos) return makeSimple(spec);
  StatusOr<std::vector<KeyExtractorPtr>> parts = makeParts(spec, '+', makeSimple);
  if (!parts.ok()) return parts.status();
  return KeyExtractorPtr(
      std::make_unique<AllOfKeyExtractor>(std::string(spec), std::move(parts).value()));
}

}  // namespace

StatusOr<KeyExtractorPtr> makeKeyExtractor(std::string_view spec) {
  // `+` and `|` always separate parts: no part's name, pointer or value can hold them.
  if (spec.find('|') == std::string_view::npos) return makeAllOf(spec);
  StatusOr<std::vector<KeyExtractorPtr>> parts = makeParts(spec, '|', makeAllOf);
  if (!parts.ok()) return parts.status();
  return KeyExtractorPtr(
      std::make_unique<FirstOfKeyExtractor>(std::string(spec), std::move(parts).value()));
}

}  // namespace dedup
