// Helpers shared by the key extractor tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "adapters/key_extractor.h"

namespace dedup::testing {

using Kind = ExtractedKey::Kind;

inline Request makeRequest(std::string target,
                           std::initializer_list<std::pair<std::string, std::string>> headers,
                           std::string body = {}) {
  Request request;
  request.method = "POST";
  request.target = std::move(target);
  for (const auto& [name, value] : headers) request.headers.add(name, value);
  request.body = std::move(body);
  return request;
}

inline Request jsonBody(std::string body) {
  return makeRequest("/hook", {{"Content-Type", "application/json"}}, std::move(body));
}

inline KeyExtractorPtr build(std::string_view spec) {
  StatusOr<KeyExtractorPtr> made = makeKeyExtractor(spec);
  EXPECT_TRUE(made.ok()) << spec << ": " << made.status().message();
  return made.ok() ? std::move(made).value() : nullptr;
}

struct Case {
  std::string name;
  Request request;
  Kind kind;
  std::string key;  // expected key when kFound
};

// Runs every case against the extractor built from `spec`.
inline void runCases(std::string_view spec, const std::vector<Case>& cases) {
  KeyExtractorPtr extractor = build(spec);
  ASSERT_NE(extractor, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(spec) + " / " + c.name);
    const ExtractedKey got = extractor->extract(c.request);
    EXPECT_EQ(got.kind, c.kind) << "error: " << got.error << " key: " << got.key;
    EXPECT_EQ(got.key, c.kind == Kind::kFound ? c.key : "");
    EXPECT_EQ(got.error.empty(), got.kind != Kind::kInvalid) << got.error;
  }
}

}  // namespace dedup::testing
