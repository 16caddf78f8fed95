#include "proxy/cpu_count.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace dedup {
namespace {

TEST(CpusFromCgroupV2, QuotaOverPeriodRoundedUp) {
  const struct {
    const char* cpu_max;
    int cpus;
  } cases[] = {
      {"max 100000\n", 0},
      {"max 100000", 0},
      {"200000 100000\n", 2},
      {"150000 100000\n", 2},
      {"50000 100000\n", 1},
      {"100000 100000", 1},
      {"400000 100000", 4},
      {"1 100000", 1},
      {"  300000   100000  \n", 3},
      {"", 0},
      {"garbage", 0},
      {"100000", 0},
      {"100000 0", 0},
      {"-1 100000", 0},
      {"0 100000", 0},
      {"1.5 100000", 0},
      {"100000 abc", 0},
  };
  for (const auto& c : cases) EXPECT_EQ(cpusFromCgroupV2(c.cpu_max), c.cpus) << c.cpu_max;
}

TEST(CpusFromCgroupV1, QuotaOverPeriodRoundedUp) {
  const struct {
    const char* quota;
    const char* period;
    int cpus;
  } cases[] = {
      {"-1\n", "100000\n", 0},
      {"200000\n", "100000\n", 2},
      {"250000", "100000", 3},
      {"10000", "100000", 1},
      {"", "", 0},
      {"100000", "", 0},
      {"", "100000", 0},
      {"100000", "0", 0},
      {"x", "100000", 0},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(cpusFromCgroupV1(c.quota, c.period), c.cpus) << c.quota << " / " << c.period;
  }
}

TEST(CpusFromCgroup, HugeQuotaDoesNotOverflow) {
  EXPECT_GT(cpusFromCgroupV2("18446744073709551615 1"), 0);
  EXPECT_GT(cpusFromCgroupV1("9223372036854775807", "1"), 0);
}

TEST(CpusWithinLimits, SmallestLimitAtLeastOne) {
  const struct {
    int affinity, v2, v1, cpus;
  } cases[] = {
      {8, 0, 0, 8}, {8, 2, 0, 2}, {8, 0, 3, 3},  {8, 4, 2, 2}, {2, 4, 0, 2},
      {0, 0, 0, 1}, {0, 3, 0, 3}, {-1, 0, 5, 5}, {1, 0, 0, 1},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(cpusWithinLimits(c.affinity, c.v2, c.v1), c.cpus)
        << c.affinity << " " << c.v2 << " " << c.v1;
  }
}

TEST(AvailableCpus, NoMoreThanTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  const int cpus = availableCpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, CPU_COUNT(&set));
}

}  // namespace
}  // namespace dedup
