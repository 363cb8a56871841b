#include "server/slurm_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace asr::server {
namespace {

using Clock = std::chrono::steady_clock;

// 'it'\''s' quoting for /bin/sh.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// JobState and ExitCode of `scontrol show job -o ID`: state "" when Slurm
// does not know the job (any more), "?" when scontrol failed otherwise (a
// busy or restarting slurmctld: ask again later).
struct SlurmJobState {
  std::string state;      // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
  int exit_code = 0;      // of the batch script (srun: the largest of its tasks')
  std::string exit_text;  // "3:0" as scontrol shows it
};

SlurmJobState QueryJob(const std::string& id) {
  auto [code, out] = RunCommand({"scontrol", "show", "job", "-o", id});
  SlurmJobState s;
  if (code != 0) {
    if (out.find("Invalid job id") == std::string::npos) s.state = "?";
    return s;
  }
  for (absl::string_view field : absl::StrSplit(out, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&field, "JobState=")) s.state = std::string(field);
    if (absl::ConsumePrefix(&field, "ExitCode=")) {
      s.exit_text = std::string(field);
      (void)absl::SimpleAtoi(field.substr(0, field.find(':')), &s.exit_code);
    }
  }
  return s;
}

bool StillRuns(const std::string& state) {
  return state == "?" || state == "PENDING" || state == "CONFIGURING" || state == "RUNNING" ||
         state == "COMPLETING" || state == "SUSPENDED" || state == "REQUEUED" || state == "RESIZING";
}

class SlurmWorkerGroup : public WorkerGroup {
 public:
  SlurmWorkerGroup(std::string id, std::string log_dir) : id_(std::move(id)), log_dir_(std::move(log_dir)) {}

  void Terminate() override {
    terminate_requested_ = true;
    RunCommand({"scancel", "--signal=TERM", id_});  // every task: they checkpoint and exit 130
  }
  void Kill() override {
    killed_ = true;
    RunCommand({"scancel", id_});
  }

  std::optional<WorkerOutcome> Poll() override {
    if (outcome_) return outcome_;
    if (Clock::now() - last_query_ < std::chrono::seconds(1)) return std::nullopt;  // scontrol is not free
    last_query_ = Clock::now();
    const SlurmJobState s = QueryJob(id_);
    if (StillRuns(s.state)) return std::nullopt;
    outcome_ = Decide(s);
    return outcome_;
  }

  // "slurm:ID:LOG_DIR"
  std::string Handle() const override { return absl::StrCat("slurm:", id_, ":", log_dir_); }

 private:
  WorkerOutcome Decide(const SlurmJobState& s) const {
    using Kind = WorkerOutcome::Kind;
    if (s.state == "COMPLETED") return {Kind::kSucceeded, ""};
    std::string detail = s.state.empty() ? absl::StrCat("Slurm no longer knows job ", id_)
                                         : absl::StrCat("Slurm job ", id_, " ended ", s.state, " (exit code ",
                                                        s.exit_text, ")");
    if (const std::string last = LastLogLine(absl::StrCat(log_dir_, "/slurm-", id_, ".log")); !last.empty()) {
      absl::StrAppend(&detail, "; its log ends: ", last);
    }
    if (terminate_requested_) {
      if (killed_) return {Kind::kKilled, detail};
      if (s.state == "CANCELLED" || s.exit_code == 130 || s.exit_code == 0) return {Kind::kCancelled, ""};
    }
    if (s.exit_code == 2) return {Kind::kInvalidInput, detail};
    if (s.state == "OUT_OF_MEMORY") return {Kind::kOverMemory, detail};
    return {Kind::kFailed, detail};
  }

  std::string id_, log_dir_;
  bool terminate_requested_ = false, killed_ = false;
  Clock::time_point last_query_{};
  std::optional<WorkerOutcome> outcome_;
};

}  // namespace

std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv, double timeout_seconds) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return {-1, "fork failed"};
  }
  std::string out;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      const ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fds[0]);
  int status = 0;
  // Its output closed: it is exiting (or it is past the deadline).
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return {-1, out + "\n(timed out)"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

absl::StatusOr<std::unique_ptr<WorkerGroup>> SlurmRunner::Launch(const WorkerLaunch& launch) {
  std::error_code ec;
  std::filesystem::create_directories(launch.log_dir, ec);
  const std::string script_path = launch.log_dir + "/slurm-job.sh";
  std::vector<std::string> quoted;
  for (const std::string& a : launch.argv) quoted.push_back(ShellQuote(a));
  {
    std::ofstream script(script_path, std::ios::trunc);
    script << "#!/bin/sh\n"
           << "# asr-server job " << launch.job_id << ": every rank is asr-train under srun.\n"
           << "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
           << "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))\n"
           << "exec srun --kill-on-bad-exit=1 --output " << ShellQuote(launch.log_dir + "/rank-%t.log") << " "
           << absl::StrJoin(quoted, " ") << "\n";
    if (!script) return absl::UnavailableError(absl::StrCat("cannot write '", script_path, "'"));
  }
  std::vector<std::string> argv = {"sbatch",     "--parsable",
                                   "--job-name", "asr-" + launch.job_id,
                                   "--ntasks",   std::to_string(launch.processes),
                                   "--output",   launch.log_dir + "/slurm-%j.log"};
  if (launch.memory_limit_bytes > 0) argv.push_back(absl::StrCat("--mem=", launch.memory_limit_bytes >> 20));
  argv.insert(argv.end(), sbatch_args_.begin(), sbatch_args_.end());
  argv.push_back(script_path);
  auto [code, out] = RunCommand(argv);
  const std::string id = std::string(absl::StripAsciiWhitespace(out.substr(0, out.find(';'))));
  if (code != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat("sbatch refused the job: ", absl::StripAsciiWhitespace(out), " (exit code ", code, ")"));
  }
  return std::make_unique<SlurmWorkerGroup>(id, launch.log_dir);
}

std::unique_ptr<WorkerGroup> SlurmRunner::Reattach(const std::string& handle, double) {
  if (handle.rfind("slurm:", 0) != 0) return nullptr;
  const size_t colon = handle.find(':', 6);
  const std::string id = handle.substr(6, colon == std::string::npos ? std::string::npos : colon - 6);
  const std::string log_dir = colon == std::string::npos ? "" : handle.substr(colon + 1);
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos || QueryJob(id).state.empty()) {
    return nullptr;
  }
  return std::make_unique<SlurmWorkerGroup>(id, log_dir);
}

}  // namespace asr::server
