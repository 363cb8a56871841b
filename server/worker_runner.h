// How the job manager starts a training job's worker processes, outside
// the server: a Runner launches every rank of one job (asr-train with
// torchrun's variables, or under srun) and hands back a WorkerGroup that
// the job manager polls, stops and kills. Rank 0 reports through its event
// log (OUT/train_log.jsonl, progress.h), which the job manager reads; a
// worker's crash, OOM kill or hang is an outcome here, never the server's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::server {

// One launch of a job's workers.
struct WorkerLaunch {
  std::string job_id;
  // asr-train and its arguments, the same for every rank.
  std::vector<std::string> argv;
  // rank-K.log (stdout and stderr of rank K) are appended to here.
  std::string log_dir;
  int processes = 1;  // ranks; 1 = a single process without c10d
  // Resident memory of all the launch's workers together, bytes; 0 =
  // unlimited. The runner watches it (every Poll()) and kills the workers
  // when it is exceeded: WorkerOutcome::kOverMemory. Each worker also gets
  // RLIMIT_AS = 2 x this + 4 GiB as a backstop against one runaway
  // allocation; not this itself, because OpenBLAS retries a failed buffer
  // allocation forever, so a worker at its RLIMIT_AS can hang instead of
  // failing (seen with Debian's OpenBLAS 0.3.21).
  int64_t memory_limit_bytes = 0;
};

// How a launch ended.
struct WorkerOutcome {
  enum class Kind {
    kSucceeded,     // every rank exited 0
    kCancelled,     // stopped by Terminate(): rank 0 checkpointed and exited 130
    kKilled,        // Kill() after Terminate() went unanswered
    kInvalidInput,  // a rank exited 2: its config or arguments are wrong; retrying cannot help
    kOverMemory,    // killed for exceeding WorkerLaunch::memory_limit_bytes; retrying would too
    kFailed,        // anything else: a crash, an exit 1, a signal nobody sent
  };
  Kind kind = Kind::kFailed;
  // For people: which rank ended how, and the last line it logged, e.g.
  // "rank 1 (pid 4242) was killed by SIGSEGV; its log ends: ...".
  std::string detail;
};

// The running workers of one launch. Not thread-safe: one owner polls it.
class WorkerGroup {
 public:
  virtual ~WorkerGroup() = default;
  // Asks every worker to stop (SIGTERM): they vote to stop at the same
  // step, rank 0 checkpoints, all exit 130.
  virtual void Terminate() = 0;
  // Ends every worker now (SIGKILL).
  virtual void Kill() = 0;
  // Non-blocking. Until every worker has ended, nullopt; then the outcome,
  // and again on later calls. When one rank fails the others are stopped
  // (SIGTERM, then SIGKILL after `peer_grace_seconds`).
  virtual std::optional<WorkerOutcome> Poll() = 0;
  // How to find these workers again after a server restart (pids with
  // their start times, or a Slurm job id); kept in the job's directory.
  virtual std::string Handle() const = 0;
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Starts every rank; UNAVAILABLE when the processes cannot be started.
  virtual absl::StatusOr<std::unique_ptr<WorkerGroup>> Launch(const WorkerLaunch& launch) = 0;
  // The workers of a Handle() from a previous server, if they still run
  // (nullptr otherwise). A runner whose workers die with the server
  // (local) first waits up to `grace_seconds` for them to finish their
  // checkpoint, kills what is left, and returns nullptr.
  virtual std::unique_ptr<WorkerGroup> Reattach(const std::string& handle, double grace_seconds) = 0;
  virtual std::string name() const = 0;
};

// Worker processes on this host, children of the server, joined over
// loopback (MASTER_ADDR 127.0.0.1 and a free port; RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE as torchrun sets them). They get SIGTERM
// when the server dies (PR_SET_PDEATHSIG), so a crashed server leaves a
// checkpoint behind rather than orphans; the restarted server resumes the
// job from it. Thread-safe.
class LocalRunner : public Runner {
 public:
  explicit LocalRunner(double peer_grace_seconds = 30) : peer_grace_seconds_(peer_grace_seconds) {}
  absl::StatusOr<std::unique_ptr<WorkerGroup>> Launch(const WorkerLaunch& launch) override;
  std::unique_ptr<WorkerGroup> Reattach(const std::string& handle, double grace_seconds) override;
  std::string name() const override { return "local"; }

 private:
  double peer_grace_seconds_;
};

// "SIGSEGV" for 11; "signal N" for one without a name.
std::string SignalName(int sig);

// The last non-empty line of the file at `path` (at most `max_chars` of
// it); "" when there is none.
std::string LastLogLine(const std::string& path, size_t max_chars = 400);

}  // namespace asr::server
