// Fuzzes the key extractors (adapters/): JSON pointers, CloudEvents (binary,
// structured, batch), composites (A+B, A|B), query and header keys, presets.
//
// Input: a control byte, then lines: the key spec (used when control bit 0 is
// set, else one of kSpecs picked by the control byte), a header value, a
// query string, a content type, and the body (the rest). Every result must be
// well formed for its kind and the same when asked again; a spec that fails
// to build must say why.
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/key_extractor.h"
#include "adapters/preset.h"
#include "tests/fuzz/fuzz_input.h"

namespace dedup::fuzz {
namespace {

constexpr std::string_view kSpecs[] = {
    "header:Idempotency-Key",
    "query:id",
    "json:/id",
    "json:/data/a~1b/m~0n/2/id",
    "json:/0/id",
    "body-sha256",
    "cloudevents",
    "header:X-Tenant+json:/id",
    "header:Idempotency-Key|query:id+json:/source|body-sha256",
    "cloudevents|body-sha256",
    "gcp-pubsub",
    "aws-sns",
    "github",
    "stripe",
    "standard-webhooks",
    "shopify",
};

// Splits off the text up to the next '\n' (or the rest).
std::string_view nextLine(std::string_view& rest) {
  const size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

void check(const KeyExtractor& extractor, const Request& request) {
  const ExtractedKey first = extractor.extract(request);
  const ExtractedKey again = extractor.extract(request);
  FUZZ_CHECK(first.kind == again.kind && first.key == again.key && first.error == again.error);
  switch (first.kind) {
    case ExtractedKey::Kind::kFound:
      FUZZ_CHECK(!first.key.empty());
      FUZZ_CHECK(first.key.size() <= kMaxKeyLength);
      FUZZ_CHECK(first.error.empty());
      break;
    case ExtractedKey::Kind::kMissing:
      FUZZ_CHECK(first.key.empty() && first.error.empty());
      break;
    case ExtractedKey::Kind::kInvalid:
      FUZZ_CHECK(first.key.empty() && !first.error.empty());
      break;
  }
}

}  // namespace
}  // namespace dedup::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dedup;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view spec_line = fuzz::nextLine(rest);
  const std::string_view header_value = fuzz::nextLine(rest);
  const std::string_view query = fuzz::nextLine(rest);
  const std::string_view content_type = fuzz::nextLine(rest);
  const std::string_view body = rest;

  std::string spec;
  if (control & 1) {
    spec = std::string(spec_line);
  } else {
    spec = std::string(fuzz::kSpecs[(control >> 1) % std::size(fuzz::kSpecs)]);
    for (const Preset& preset : allPresets()) {
      if (preset.name == spec) spec = preset.key_spec;
    }
  }
  StatusOr<KeyExtractorPtr> extractor = makeKeyExtractor(spec);
  if (!extractor.ok()) {
    FUZZ_CHECK(!extractor.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(*extractor != nullptr);

  Request request;
  request.method = "POST";
  request.target = "/hook?" + std::string(query);
  request.body = std::string(body);
  if (!content_type.empty()) request.headers.add("Content-Type", std::string(content_type));
  // The value on every header a spec or preset reads; some left out by control bits.
  int bit = 4;
  for (const char* name : {"Idempotency-Key", "X-Tenant", "ce-id", "ce-source", "ce-specversion",
                           "x-amz-sns-message-id", "X-GitHub-Delivery", "webhook-id", "svix-id",
                           "X-Shopify-Webhook-Id"}) {
    if (((control >> (bit++ % 8)) & 1) == 0) request.headers.add(name, std::string(header_value));
  }
  fuzz::check(**extractor, request);
  return 0;
}
