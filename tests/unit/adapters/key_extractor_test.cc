#include "adapters/key_extractor.h"

#include <gtest/gtest.h>

namespace dedup {
namespace {

Request withHeaders(std::initializer_list<std::pair<std::string, std::string>> headers) {
  Request request;
  request.method = "POST";
  for (const auto& [name, value] : headers) request.headers.add(name, value);
  return request;
}

TEST(MakeKeyExtractor, RejectsUnknownAndMalformedSpecs) {
  for (const char* spec : {"", "header:", "header:a b", "cookie:x", "headers:x"}) {
    EXPECT_FALSE(makeKeyExtractor(spec).ok()) << spec;
  }
  EXPECT_EQ(makeKeyExtractor("header:X-Id").value()->spec(), "header:X-Id");
}

TEST(HeaderKeyExtractor, Cases) {
  auto extractor = std::move(makeKeyExtractor("header:Idempotency-Key").value());
  struct Case {
    Request request;
    ExtractedKey::Kind kind;
    std::string key;
  };
  const Case cases[] = {
      {withHeaders({{"Idempotency-Key", "abc-123"}}), ExtractedKey::Kind::kFound, "abc-123"},
      {withHeaders({{"idempotency-key", "lower"}}), ExtractedKey::Kind::kFound, "lower"},
      {withHeaders({}), ExtractedKey::Kind::kMissing, ""},
      {withHeaders({{"Idempotency-Key", ""}}), ExtractedKey::Kind::kMissing, ""},
      {withHeaders({{"Idempotency-Key", "a"}, {"Idempotency-Key", "b"}}),
       ExtractedKey::Kind::kInvalid, ""},
      {withHeaders({{"Idempotency-Key", std::string(kMaxKeyLength, 'x')}}),
       ExtractedKey::Kind::kFound, std::string(kMaxKeyLength, 'x')},
      {withHeaders({{"Idempotency-Key", std::string(kMaxKeyLength + 1, 'x')}}),
       ExtractedKey::Kind::kInvalid, ""},
      {withHeaders({{"Idempotency-Key", "has space"}}), ExtractedKey::Kind::kInvalid, ""},
      {withHeaders({{"Idempotency-Key", "caf\xc3\xa9"}}), ExtractedKey::Kind::kInvalid, ""},
  };
  for (const Case& c : cases) {
    const ExtractedKey got = extractor->extract(c.request);
    EXPECT_EQ(got.kind, c.kind);
    EXPECT_EQ(got.key, c.key);
    if (got.kind == ExtractedKey::Kind::kInvalid) {
      EXPECT_FALSE(got.error.empty());
    }
  }
}

}  // namespace
}  // namespace dedup
