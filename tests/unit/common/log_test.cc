#include "common/log.h"

#include <gtest/gtest.h>

namespace dedup::log {
namespace {

TEST(RateLimit, LetsThroughAtMostItsLinesPerSecondAndCountsTheRest) {
  RateLimit limit(3);
  const uint64_t suppressed_before = suppressedLines();
  int allowed = 0;
  // All within (at most) two seconds: at most 2 × 3 lines pass.
  for (int i = 0; i < 100; ++i) allowed += limit.allow() ? 1 : 0;
  EXPECT_GE(allowed, 3);
  EXPECT_LE(allowed, 6);
  EXPECT_EQ(suppressedLines() - suppressed_before, static_cast<uint64_t>(100 - allowed));
}

TEST(Log, WritesNeverBlockAndDropWithACountWhenTheBufferIsFull) {
  configure(Level::kInfo, Format::kLogfmt);
  const uint64_t dropped_before = droppedLines();
  // Far more than the buffer holds, faster than stderr drains it in a test
  // run; each write returns at once either way.
  const std::string big(16 * 1024, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4 * static_cast<int>(kBufferBytes / big.size()); ++i) {
    write(Level::kInfo, "filler", {{"data", big}});
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2));
  flush();
  // Whatever was dropped is counted; nothing is lost silently.
  EXPECT_GE(droppedLines(), dropped_before);
}

}  // namespace
}  // namespace dedup::log
