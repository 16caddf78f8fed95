#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace dedup {
namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& gauge(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

int countOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory stream's own descriptor
}

// Seconds since the epoch at which this process started: boot time plus the
// process' start in clock ticks after boot (/proc/self/stat field 22).
double processStartTime(const std::string& stat_after_comm) {
  std::istringstream fields(stat_after_comm);
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  const double ticks = std::strtod(field.c_str(), nullptr);
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr) + ticks / sysconf(_SC_CLK_TCK);
    }
  }
  return 0;
}

}  // namespace

ProcessMetrics::ProcessMetrics(prometheus::Registry& registry)
    : cpu_seconds_(counter(registry, "process_cpu_seconds_total",
                           "User and system CPU time spent, in seconds")),
      resident_bytes_(
          gauge(registry, "process_resident_memory_bytes", "Resident memory size in bytes")),
      virtual_bytes_(
          gauge(registry, "process_virtual_memory_bytes", "Virtual memory size in bytes")),
      open_fds_(gauge(registry, "process_open_fds", "Open file descriptors")),
      max_fds_(gauge(registry, "process_max_fds", "Maximum number of open file descriptors")),
      start_time_(gauge(registry, "process_start_time_seconds",
                        "Start time of the process since the Unix epoch, in seconds")) {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t comm_end = text.rfind(')');
  if (comm_end != std::string::npos) start_time_.Set(processStartTime(text.substr(comm_end + 2)));
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds_.Set(static_cast<double>(limit.rlim_cur));
}

void ProcessMetrics::update() {
  rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                       (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    if (cpu > cpu_seconds_.Value()) cpu_seconds_.Increment(cpu - cpu_seconds_.Value());
  }
  std::ifstream statm("/proc/self/statm");
  double pages_virtual = 0, pages_resident = 0;
  if (statm >> pages_virtual >> pages_resident) {
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    virtual_bytes_.Set(pages_virtual * page);
    resident_bytes_.Set(pages_resident * page);
  }
  const int fds = countOpenFds();
  if (fds >= 0) open_fds_.Set(fds);
}

}  // namespace dedup
