// Prometheus process metrics (the names every Prometheus client library
// exports): process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds,
// process_open_fds, process_max_fds, process_threads. Read from /proc at
// scrape time. Linux only.
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace asr::server {

class ProcessCollector : public prometheus::Collectable {
 public:
  // Thread-safe: called by the exposer's threads at each scrape.
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Resident set size of this process in bytes, or 0 if unreadable.
double ResidentMemoryBytes();

}  // namespace asr::server
