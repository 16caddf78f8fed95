// Process metrics in Prometheus' standard names (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, process_start_time_seconds),
// read from /proc at scrape time. Thread-safety: update() from one thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace dedup {

class ProcessMetrics {
 public:
  explicit ProcessMetrics(prometheus::Registry& registry);
  // Reads /proc/self; values that cannot be read are left as they were.
  void update();

 private:
  prometheus::Counter& cpu_seconds_;
  prometheus::Gauge& resident_bytes_;
  prometheus::Gauge& virtual_bytes_;
  prometheus::Gauge& open_fds_;
  prometheus::Gauge& max_fds_;
  prometheus::Gauge& start_time_;
};

}  // namespace dedup
