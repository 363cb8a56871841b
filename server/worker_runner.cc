#include "server/worker_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace asr::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Variables through which a launcher tells asr-train its rank: the
// server's own (if it runs under one) must not leak into its workers.
bool IsLauncherVariable(const std::string& name) {
  static const char* kExact[] = {"RANK",        "WORLD_SIZE",  "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                 "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK", "ROLE_RANK"};
  for (const char* e : kExact) {
    if (name == e) return true;
  }
  return name.rfind("SLURM_", 0) == 0 || name.rfind("TORCHELASTIC_", 0) == 0;
}

// A loopback TCP port that was free a moment ago; 0 if none.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Field 22 of /proc/PID/stat (start time in clock ticks since boot) and
// field 3 (state); 0 and '?' when the process is gone.
std::pair<uint64_t, char> StartTimeAndState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return {0, '?'};
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  uint64_t start = 0;
  if (f.size() < 20 || !absl::SimpleAtoi(f[19], &start)) return {0, '?'};
  return {start, f[0].empty() ? '?' : f[0][0]};
}

// Whether `pid` is still the process that started at `start_ticks` and
// has not ended (a zombie has ended).
bool SameProcessAlive(pid_t pid, uint64_t start_ticks) {
  const auto [start, state] = StartTimeAndState(pid);
  return start == start_ticks && state != 'Z' && state != 'X';
}

// Resident set size of `pid`, bytes (0 when it is gone).
int64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by ", SignalName(WTERMSIG(status)));
  return "ended";
}

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  uint64_t start_ticks = 0;
  std::string log_path;
  std::optional<int> status;  // waitpid status once it ended
  int ended_in_poll = -1;     // which Poll() saw it end
};

class LocalWorkerGroup : public WorkerGroup {
 public:
  LocalWorkerGroup(std::vector<Worker> workers, double peer_grace_seconds, int64_t memory_limit_bytes)
      : workers_(std::move(workers)), peer_grace_(peer_grace_seconds), memory_limit_(memory_limit_bytes) {}
  ~LocalWorkerGroup() override {
    // An owner that lets go of running workers (it should not) leaves no orphans.
    if (!outcome_) {
      Kill();
      for (Worker& w : workers_) {
        if (!w.status) waitpid(w.pid, nullptr, 0);
      }
    }
  }

  void Terminate() override {
    terminate_requested_ = true;
    Signal(SIGTERM);
  }
  void Kill() override {
    killed_ = true;
    Signal(SIGKILL);
  }

  std::optional<WorkerOutcome> Poll() override {
    if (outcome_) return outcome_;
    ++polls_;
    bool all_ended = true;
    for (Worker& w : workers_) {
      if (w.status) continue;
      int status = 0;
      const pid_t r = waitpid(w.pid, &status, WNOHANG);
      if (r == w.pid || (r < 0 && errno == ECHILD)) {
        w.status = r == w.pid ? status : 0;
        w.ended_in_poll = polls_;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !first_failure_)
          first_failure_ = Clock::now();
      } else {
        all_ended = false;
      }
    }
    if (!all_ended && memory_limit_ > 0 && !over_memory_) {
      int64_t resident = 0;
      for (const Worker& w : workers_) {
        if (!w.status) resident += ResidentBytes(w.pid);
      }
      if (resident > memory_limit_) {
        over_memory_ = absl::StrCat("the workers' resident memory reached ", resident >> 20,
                                    " MiB, more than the job's limit of ", memory_limit_ >> 20,
                                    " MiB (the server's --job-memory-limit-mb); they were killed");
        Signal(SIGKILL);
      }
    }
    if (!all_ended) {
      // One rank failed: its peers would wait for it until their collective
      // timeout; stop them now, and kill them if they do not listen.
      if (first_failure_ && !peers_stopped_) {
        peers_stopped_ = true;
        Signal(SIGTERM);
      }
      if (first_failure_ && !peers_killed_ &&
          Clock::now() - *first_failure_ > std::chrono::duration<double>(peer_grace_)) {
        peers_killed_ = true;
        Signal(SIGKILL);
      }
      return std::nullopt;
    }
    outcome_ = Decide();
    return outcome_;
  }

  std::string Handle() const override {
    std::string h = "local:";
    for (const Worker& w : workers_) absl::StrAppend(&h, w.rank ? "," : "", w.pid, "/", w.start_ticks);
    return h;
  }

 private:
  void Signal(int sig) {
    for (const Worker& w : workers_) {
      if (!w.status) kill(w.pid, sig);
    }
  }

  bool ExitedWith(const Worker& w, int code) const {
    return w.status && WIFEXITED(*w.status) && WEXITSTATUS(*w.status) == code;
  }

  std::string Describe(const Worker& w) const {
    std::string d = absl::StrCat("rank ", w.rank, " (pid ", w.pid, ") ", DescribeStatus(*w.status));
    if (const std::string last = LastLogLine(w.log_path); !last.empty()) {
      absl::StrAppend(&d, "; its log ends: ", last);
    }
    return d;
  }

  WorkerOutcome Decide() const {
    using Kind = WorkerOutcome::Kind;
    bool all_zero = true;
    for (const Worker& w : workers_) all_zero = all_zero && ExitedWith(w, 0);
    if (all_zero) return {Kind::kSucceeded, ""};
    if (over_memory_) return {Kind::kOverMemory, *over_memory_};
    if (terminate_requested_) {
      if (killed_) return {Kind::kKilled, "the workers did not stop after SIGTERM and were killed"};
      bool stopped = true;  // 130 (checkpointed and stopped) or 0 (finished just then)
      for (const Worker& w : workers_) stopped = stopped && (ExitedWith(w, 130) || ExitedWith(w, 0));
      if (stopped) return {Kind::kCancelled, ""};
    }
    for (const Worker& w : workers_) {
      if (ExitedWith(w, 2)) return {Kind::kInvalidInput, Describe(w)};
    }
    // The first to end badly is the cause; among those seen together, a
    // signal (a crash, the OOM killer) explains more than a peer's exit 1.
    const Worker* cause = nullptr;
    auto rank_of = [](const Worker& w) {
      const bool bad = !(WIFEXITED(*w.status) && WEXITSTATUS(*w.status) == 0);
      return std::tuple(!bad, w.ended_in_poll, !WIFSIGNALED(*w.status), w.rank);
    };
    for (const Worker& w : workers_) {
      if (!cause || rank_of(w) < rank_of(*cause)) cause = &w;
    }
    return {Kind::kFailed, Describe(*cause)};
  }

  std::vector<Worker> workers_;
  double peer_grace_;
  int64_t memory_limit_;
  std::optional<std::string> over_memory_;  // why the workers were killed for their memory
  int polls_ = 0;
  bool terminate_requested_ = false, killed_ = false, peers_stopped_ = false, peers_killed_ = false;
  std::optional<Clock::time_point> first_failure_;
  std::optional<WorkerOutcome> outcome_;
};

// fork + exec of one rank. Everything the child touches is prepared
// before fork(): between fork and exec only async-signal-safe calls.
absl::StatusOr<Worker> SpawnRank(const WorkerLaunch& launch, int rank, int master_port) {
  Worker w;
  w.rank = rank;
  w.log_path = (fs::path(launch.log_dir) / absl::StrCat("rank-", rank, ".log")).string();
  const int log_fd = open(w.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open '", w.log_path, "': ", std::strerror(errno)));
  }
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!IsLauncherVariable(kv.substr(0, kv.find('=')))) env.push_back(kv);
  }
  if (launch.processes > 1) {
    env.push_back(absl::StrCat("RANK=", rank));
    env.push_back(absl::StrCat("WORLD_SIZE=", launch.processes));
    env.push_back(absl::StrCat("LOCAL_RANK=", rank));
    env.push_back(absl::StrCat("LOCAL_WORLD_SIZE=", launch.processes));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back(absl::StrCat("MASTER_PORT=", master_port));
  }
  std::vector<char*> argv, envp;
  for (const std::string& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const rlim_t backstop = static_cast<rlim_t>(2 * launch.memory_limit_bytes + (int64_t{4} << 30));
  const rlimit as_limit{backstop, backstop};
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid == 0) {
    // SIGTERM when the server dies: the worker checkpoints and stops.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(130);
    setpgid(0, 0);  // a terminal's ^C reaches the server, which stops the workers itself
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (launch.memory_limit_bytes > 0) setrlimit(RLIMIT_AS, &as_limit);
    const rlimit no_core{0, 0};  // a crashing worker must not fill the state disk with a core file
    setrlimit(RLIMIT_CORE, &no_core);
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execve(argv[0], argv.data(), envp.data());
    const char msg[] = "asr-server: cannot exec the worker binary\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(127);
  }
  const int fork_errno = errno;
  close(log_fd);
  if (pid < 0) return absl::UnavailableError(absl::StrCat("fork: ", std::strerror(fork_errno)));
  w.pid = pid;
  w.start_ticks = StartTimeAndState(pid).first;
  return w;
}

}  // namespace

std::string SignalName(int sig) {
  if (const char* abbrev = sigabbrev_np(sig)) return absl::StrCat("SIG", abbrev);
  return absl::StrCat("signal ", sig);
}

std::string LastLogLine(const std::string& path, size_t max_chars) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - 16384);
  in.seekg(from);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string last;
  for (absl::string_view line : absl::StrSplit(tail, absl::ByAnyChar("\r\n"), absl::SkipWhitespace())) {
    last = std::string(line);
  }
  if (last.size() > max_chars) last = last.substr(0, max_chars) + "...";
  return last;
}

absl::StatusOr<std::unique_ptr<WorkerGroup>> LocalRunner::Launch(const WorkerLaunch& launch) {
  if (launch.processes < 1) return absl::InvalidArgumentError("processes: must be >= 1");
  std::error_code ec;
  fs::create_directories(launch.log_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create '", launch.log_dir, "': ", ec.message()));
  }
  const int port = launch.processes > 1 ? FreeLoopbackPort() : 0;
  if (launch.processes > 1 && port == 0)
    return absl::UnavailableError("no free loopback port for MASTER_PORT");
  std::vector<Worker> workers;
  for (int rank = 0; rank < launch.processes; ++rank) {
    auto w = SpawnRank(launch, rank, port);
    if (!w.ok()) {
      for (Worker& started : workers) {
        kill(started.pid, SIGKILL);
        waitpid(started.pid, nullptr, 0);
      }
      return w.status();
    }
    workers.push_back(std::move(*w));
  }
  return std::make_unique<LocalWorkerGroup>(std::move(workers), peer_grace_seconds_,
                                            launch.memory_limit_bytes);
}

std::unique_ptr<WorkerGroup> LocalRunner::Reattach(const std::string& handle, double grace_seconds) {
  if (handle.rfind("local:", 0) != 0) return nullptr;
  std::vector<std::pair<pid_t, uint64_t>> alive;
  for (absl::string_view item : absl::StrSplit(handle.substr(6), ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(item, '/');
    int pid = 0;
    uint64_t ticks = 0;
    if (absl::SimpleAtoi(parts.first, &pid) && absl::SimpleAtoi(parts.second, &ticks) && pid > 0 &&
        SameProcessAlive(pid, ticks)) {
      alive.emplace_back(pid, ticks);
    }
  }
  // They got SIGTERM when their server died and are writing a checkpoint:
  // let them finish, so the restarted job resumes from it.
  const auto deadline = Clock::now() + std::chrono::duration<double>(grace_seconds);
  auto any_alive = [&] {
    for (const auto& [pid, ticks] : alive) {
      if (SameProcessAlive(pid, ticks)) return true;
    }
    return false;
  };
  while (any_alive() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const auto& [pid, ticks] : alive) {
    if (SameProcessAlive(pid, ticks)) kill(pid, SIGKILL);
  }
  while (any_alive() && Clock::now() < deadline + std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

}  // namespace asr::server
