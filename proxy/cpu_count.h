// availableCpus(): how many CPUs this process may really use, for the default
// worker count (--workers 0). A container often sees every CPU of the host
// while its cgroup quota lets it use only a few; one worker per host CPU would
// then mostly wait for the throttle.
//
// The cgroup parsers are pure functions of the files' contents so that tests
// need no cgroup. Thread-safety: free functions without shared state.
#pragma once

#include <string_view>

namespace dedup {

// The CPUs the process may run on: min(affinity mask, cgroup v2 quota,
// cgroup v1 quota), a fractional quota rounded up; at least 1.
int availableCpus();

// Contents of cgroup v2 "cpu.max" ("150000 100000", "max 100000") → CPUs
// (quota / period rounded up); 0 when there is no limit or the text is not
// understood.
int cpusFromCgroupV2(std::string_view cpu_max);

// Contents of cgroup v1 "cpu.cfs_quota_us" ("-1" = no limit) and
// "cpu.cfs_period_us" → CPUs rounded up; 0 when there is no limit or the text
// is not understood.
int cpusFromCgroupV1(std::string_view quota_us, std::string_view period_us);

// min(affinity_cpus, each non-zero quota), at least 1. A quota of 0 means
// "no limit"; affinity_cpus <= 0 means "unknown".
int cpusWithinLimits(int affinity_cpus, int cgroup_v2_cpus, int cgroup_v1_cpus);

}  // namespace dedup
