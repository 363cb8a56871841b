#include "server/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace asr::server {
namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  double threads = 0;
};

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

bool ReadProcStat(ProcStat* s) {
  std::ifstream in("/proc/self/stat");
  std::string content;
  if (!std::getline(in, content)) return false;
  // Field 2 (comm) may hold spaces; fields after the last ')' are fixed.
  const size_t close = content.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(content.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string tok; rest >> tok;) f.push_back(tok);
  if (f.size() < 22) return false;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  s->cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;  // utime + stime
  s->threads = std::stod(f[17]);
  s->start_time_seconds = BootTimeSeconds() + std::stod(f[19]) / tick;
  s->virtual_bytes = std::stod(f[20]);
  s->resident_bytes = std::stod(f[21]) * page;
  return true;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily fam;
  fam.name = name;
  fam.help = help;
  fam.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  fam.metric.push_back(m);
  return fam;
}

}  // namespace

double ResidentMemoryBytes() {
  ProcStat s;
  return ReadProcStat(&s) ? s.resident_bytes : 0;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  ProcStat s;
  if (ReadProcStat(&s)) {
    out.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                         MetricType::Counter, s.cpu_seconds));
    out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                         s.resident_bytes));
    out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
                         s.virtual_bytes));
    out.push_back(Family("process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                         s.start_time_seconds));
    out.push_back(
        Family("process_threads", "Number of OS threads in the process.", MetricType::Gauge, s.threads));
  }
  out.push_back(Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, OpenFds()));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                         static_cast<double>(lim.rlim_cur)));
  }
  return out;
}

}  // namespace asr::server
