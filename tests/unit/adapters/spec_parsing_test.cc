#include <gtest/gtest.h>

#include "adapters/key_extractor.h"

namespace dedup {
namespace {

TEST(MakeKeyExtractorSpecs, AcceptsValidSpecsAndKeepsTheirText) {
  for (const char* spec : {"header:X-Id", "query:id", "query:event_id", "json:/id", "json:/a/b/0",
                           "json:/", "json:/a~1b/c~0d", "body-sha256", "cloudevents",
                           "header:X-Tenant+json:/id", "header:Idempotency-Key|body-sha256",
                           "query:id|header:A+json:/b|cloudevents", "header:A+header:B+header:C"}) {
    StatusOr<KeyExtractorPtr> made = makeKeyExtractor(spec);
    ASSERT_TRUE(made.ok()) << spec << ": " << made.status().message();
    EXPECT_EQ(made.value()->spec(), spec);
  }
}

TEST(MakeKeyExtractorSpecs, RejectsInvalidSpecs) {
  for (const char* spec : {"",
                           "query:",
                           "query:a b",
                           "query:a=b",
                           "query:a&b",
                           "query:a#",
                           "query:%41",
                           "json:",
                           "json:id",
                           "json:/a~",
                           "json:/a~2",
                           "json:/~x",
                           "json:#/id",
                           "body-sha256:x",
                           "body_sha256",
                           "cloudevents:x",
                           "CloudEvents",
                           "header:A+",
                           "+header:A",
                           "header:A|",
                           "|header:A",
                           "header:A||header:B",
                           "header:A++header:B",
                           "header:A+bogus",
                           "bogus|header:A",
                           "json:/a+b",
                           "query:a|"}) {
    StatusOr<KeyExtractorPtr> made = makeKeyExtractor(spec);
    EXPECT_FALSE(made.ok()) << spec;
    if (!made.ok()) {
      EXPECT_EQ(made.status().code(), Status::Code::kInvalidArgument) << spec;
      EXPECT_FALSE(made.status().message().empty()) << spec;
    }
  }
}

}  // namespace
}  // namespace dedup
