#include "adapters/cloudevents_key_extractor.h"

#include "adapters/cloudevents_fingerprint.h"
#include "adapters/derived_key.h"
#include "adapters/json_key_extractor.h"

namespace dedup {
namespace {

ExtractedKey header(const Request& request, std::string_view name) {
  if (request.headers.count(name) > 1) {
    return ExtractedKey::invalid("more than one " + std::string(name) + " header");
  }
  const std::string* value = request.headers.find(name);
  if (value == nullptr) return ExtractedKey::missing();
  return checkDerivedKey(name, *value);
}

// source + "\n" + id when both are found; else the first kInvalid, else kMissing.
ExtractedKey combine(ExtractedKey source, ExtractedKey id) {
  for (ExtractedKey* part : {&source, &id}) {
    if (part->kind == ExtractedKey::Kind::kInvalid) return std::move(*part);
  }
  if (source.kind != ExtractedKey::Kind::kFound || id.kind != ExtractedKey::Kind::kFound) {
    return ExtractedKey::missing();
  }
  return checkKeyLength("CloudEvents source + id", source.key + "\n" + id.key);
}

}  // namespace

ExtractedKey CloudEventsKeyExtractor::extract(const Request& request) const {
  const std::string* content_type = request.headers.find("Content-Type");
  if (content_type != nullptr) {
    if (startsWithIgnoreCase(*content_type, "application/cloudevents-batch+json")) {
      return ExtractedKey::invalid(
          "CloudEvents batch mode is not supported: send events one by one");
    }
    if (startsWithIgnoreCase(*content_type, "application/cloudevents+json")) {
      if (request.body.empty()) return ExtractedKey::missing();
      // The spec makes both attributes strings: a number is not an event id.
      std::vector<ExtractedKey> keys =
          extractJsonValues(request.body, {"/source", "/id"}, /*strings_only=*/true);
      return combine(std::move(keys[0]), std::move(keys[1]));
    }
  }
  return combine(header(request, "ce-source"), header(request, "ce-id"));
}

Sha256Digest CloudEventsKeyExtractor::fingerprint(const Request& request) const {
  return cloudEventFingerprint(request);
}

}  // namespace dedup
