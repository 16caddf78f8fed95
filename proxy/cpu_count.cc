#include "proxy/cpu_count.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace dedup {
namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// A whole positive number filling all of `text`; 0 otherwise.
uint64_t positiveNumber(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return 0;
  return value;
}

int cpusFromQuota(uint64_t quota, uint64_t period) {
  if (quota == 0 || period == 0) return 0;
  const uint64_t cpus = quota / period + (quota % period != 0 ? 1 : 0);
  return static_cast<int>(std::min<uint64_t>(cpus, INT_MAX));
}

// "" when the file is missing or unreadable: the limit it would hold is unknown.
std::string readSmallFile(const char* path) {
  std::ifstream file(path);
  if (!file) return "";
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

int affinityCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  // More CPUs than a cpu_set_t holds (EINVAL): fall back to the online count.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(std::min<long>(online, INT_MAX)) : 0;
}

}  // namespace

int cpusFromCgroupV2(std::string_view cpu_max) {
  cpu_max = trim(cpu_max);
  const size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return 0;
  const std::string_view quota = cpu_max.substr(0, space);
  const std::string_view period = trim(cpu_max.substr(space + 1));
  if (quota == "max") return 0;
  return cpusFromQuota(positiveNumber(quota), positiveNumber(period));
}

int cpusFromCgroupV1(std::string_view quota_us, std::string_view period_us) {
  // "-1" (no limit) is not a positive number, so it yields 0 like garbage does.
  return cpusFromQuota(positiveNumber(trim(quota_us)), positiveNumber(trim(period_us)));
}

int cpusWithinLimits(int affinity_cpus, int cgroup_v2_cpus, int cgroup_v1_cpus) {
  int cpus = affinity_cpus > 0 ? affinity_cpus : INT_MAX;
  if (cgroup_v2_cpus > 0) cpus = std::min(cpus, cgroup_v2_cpus);
  if (cgroup_v1_cpus > 0) cpus = std::min(cpus, cgroup_v1_cpus);
  return cpus == INT_MAX ? 1 : std::max(cpus, 1);
}

int availableCpus() {
  const int v2 = cpusFromCgroupV2(readSmallFile("/sys/fs/cgroup/cpu.max"));
  int v1 = cpusFromCgroupV1(readSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                            readSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  if (v1 == 0) {
    // Some distributions mount the v1 controllers only under their joint name.
    v1 = cpusFromCgroupV1(readSmallFile("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"),
                          readSmallFile("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"));
  }
  return cpusWithinLimits(affinityCpus(), v2, v1);
}

}  // namespace dedup
