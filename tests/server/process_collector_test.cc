#include "server/process_collector.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace asr::server {
namespace {

std::map<std::string, double> Values() {
  std::map<std::string, double> v;
  for (const auto& fam : ProcessCollector().Collect()) {
    const auto& m = fam.metric.at(0);
    v[fam.name] = fam.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return v;
}

TEST(ProcessCollectorTest, ReportsStandardProcessMetrics) {
  const auto v = Values();
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_start_time_seconds", "process_open_fds", "process_max_fds", "process_threads"}) {
    EXPECT_TRUE(v.count(name)) << name;
  }
  EXPECT_GT(v.at("process_resident_memory_bytes"), 1e5);
  EXPECT_GE(v.at("process_virtual_memory_bytes"), v.at("process_resident_memory_bytes"));
  EXPECT_GT(v.at("process_start_time_seconds"), 1.6e9);  // after 2020
  EXPECT_GE(v.at("process_threads"), 1);
}

TEST(ProcessCollectorTest, ResidentMemoryGrowsWhenMemoryIsTouched) {
  const double before = ResidentMemoryBytes();
  std::vector<char> block(64 << 20, 1);  // 64 MiB, written
  const double after = ResidentMemoryBytes();
  EXPECT_GT(after - before, 32.0 * (1 << 20)) << "block " << static_cast<int>(block[12345]);
}

TEST(ProcessCollectorTest, CountsOpenFileDescriptors) {
  const double before = Values().at("process_open_fds");
  FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Values().at("process_open_fds"), before + 1);
  std::fclose(f);
}

}  // namespace
}  // namespace asr::server
