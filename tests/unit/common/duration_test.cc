#include "common/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace dedup {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndCombinations) {
  const struct {
    const char* text;
    int64_t ms;
  } cases[] = {
      {"250ms", 250},
      {"30s", 30'000},
      {"5m", 300'000},
      {"24h", 86'400'000},
      {"7d", 604'800'000},
      {"1h30m", 5'400'000},
      {"1m30s500ms", 90'500},
      {"30", 30'000},
      {"0", 0},
      {"0s", 0},
      {"1d1h1m1s1ms", 90'061'001},
  };
  for (const auto& c : cases) {
    StatusOr<milliseconds> d = parseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().ToString();
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(ParseDuration, RejectsWithOneLineNamingTheText) {
  const char* cases[] = {"",    "3x",   "-5s", "s",  "1.5s", "5 s", " 5s",
                         "5s ", "1h30", "30S", "1y", "ms",   "5sm"};
  for (const char* text : cases) {
    StatusOr<milliseconds> d = parseDuration(text);
    ASSERT_FALSE(d.ok()) << "'" << text << "' parsed as " << (d.ok() ? d->count() : 0);
    EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(d.status().message(),
              "'" + std::string(text) + "' is not a duration (use e.g. 250ms, 30s, 5m, 24h, 7d)");
  }
}

TEST(ParseDuration, RejectsOverflowInsteadOfWrapping) {
  EXPECT_FALSE(parseDuration("99999999999999999999s").ok());
  EXPECT_FALSE(parseDuration("999999999999999999d").ok());
}

TEST(FormatDuration, ShortestExactForm) {
  const struct {
    int64_t ms;
    const char* text;
  } cases[] = {{0, "0s"},          {250, "250ms"},        {30'000, "30s"}, {5'400'000, "1h30m"},
               {86'400'000, "1d"}, {90'500, "1m30s500ms"}};
  for (const auto& c : cases) EXPECT_EQ(formatDuration(milliseconds(c.ms)), c.text);
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const int64_t ms : {1LL, 999LL, 1000LL, 61'001LL, 90'061'001LL, 604'800'000LL}) {
    StatusOr<milliseconds> d = parseDuration(formatDuration(milliseconds(ms)));
    ASSERT_TRUE(d.ok()) << ms;
    EXPECT_EQ(d->count(), ms);
  }
}

TEST(ParseSize, AcceptsUnits) {
  const struct {
    const char* text;
    uint64_t bytes;
  } cases[] = {
      {"0", 0},           {"1024", 1024},       {"1B", 1},           {"64KiB", 65'536},
      {"64K", 65'536},    {"64KB", 65'536},     {"8MiB", 8'388'608}, {"8M", 8'388'608},
      {"8MB", 8'388'608}, {"1GiB", 1ull << 30}, {"2G", 2ull << 30},  {"3GB", 3ull << 30},
  };
  for (const auto& c : cases) {
    StatusOr<uint64_t> size = parseSize(c.text);
    ASSERT_TRUE(size.ok()) << c.text << ": " << size.status().ToString();
    EXPECT_EQ(*size, c.bytes) << c.text;
  }
}

TEST(ParseSize, RejectsWithOneLineNamingTheText) {
  const char* cases[] = {"",
                         "KiB",
                         "-1",
                         "1.5MiB",
                         "64 KiB",
                         "64kib",
                         "64TiB",
                         "1e6",
                         "12x",
                         "99999999999999999999",
                         "17179869184GiB"};
  for (const char* text : cases) {
    StatusOr<uint64_t> size = parseSize(text);
    ASSERT_FALSE(size.ok()) << "'" << text << "' parsed as " << (size.ok() ? *size : 0);
    EXPECT_EQ(size.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(size.status().message(),
              "'" + std::string(text) + "' is not a size (use e.g. 1024, 64KiB, 8MiB)");
  }
}

}  // namespace
}  // namespace dedup

namespace dedup {
namespace {

TEST(ParseDurationEdges, RejectsBareNumbersAfterUnitsAndOverflow) {
  for (const char* text :
       {"0s5", "0ms7", "1m30", "99999999999999999d", "3650d1ms", "18446744073709551615"}) {
    EXPECT_FALSE(parseDuration(text).ok()) << text;
  }
  EXPECT_EQ(parseDuration("3650d").value(), std::chrono::hours(24 * 3650));
}

}  // namespace
}  // namespace dedup
