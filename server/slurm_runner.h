// Runner that submits a job's workers to Slurm: one sbatch job of
// `processes` tasks, each asr-train under srun (which sets SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID; the batch script sets MASTER_ADDR to the
// allocation's first host and MASTER_PORT from the Slurm job id). Each
// rank's output goes to LOG_DIR/rank-K.log, so LOG_DIR (the job's
// directory under the server's state dir) must be on a filesystem every
// node shares, as the job's checkpoints must. The workers outlive the
// server: Reattach() finds a Slurm job that is still pending or running
// (or one that ended meanwhile, and reports how). Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "server/worker_runner.h"

namespace asr::server {

class SlurmRunner : public Runner {
 public:
  // `sbatch_args` are added to every sbatch call (e.g. --partition gpu
  // --account ml); the commands are found on PATH.
  explicit SlurmRunner(std::vector<std::string> sbatch_args = {}) : sbatch_args_(std::move(sbatch_args)) {}
  // Submits the job; UNAVAILABLE with sbatch's message when it refuses.
  // WorkerLaunch::memory_limit_bytes becomes --mem (per node, MiB).
  absl::StatusOr<std::unique_ptr<WorkerGroup>> Launch(const WorkerLaunch& launch) override;
  // The Handle() "slurm:ID:LOG_DIR" of a job Slurm still knows (running, or
  // ended while no server watched: Poll() says how); nullptr otherwise.
  std::unique_ptr<WorkerGroup> Reattach(const std::string& handle, double grace_seconds) override;
  std::string name() const override { return "slurm"; }

 private:
  std::vector<std::string> sbatch_args_;
};

// Runs argv (no shell), waiting at most `timeout_seconds`; the exit code
// (-1 if it could not run or timed out) and what it wrote to stdout and
// stderr together.
std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv, double timeout_seconds = 30);

}  // namespace asr::server
