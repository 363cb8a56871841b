// JobManager: runs training jobs. A FIFO queue served by a fixed number of
// worker threads (max_concurrent_jobs, default 1), each job in its own
// directory STATE/jobs/<id> through the same Trainer asr-train uses.
// Every transition and progress event is written to the job store before
// listeners (WatchJob streams) hear of it. Cancel stops a job within one
// step and leaves a checkpoint. After a crash or kill -9, Start() puts
// RUNNING jobs back at the head of the queue; they resume from their newest
// valid checkpoint with the step counter continuing. A graceful Stop()
// checkpoints running jobs and leaves them queued for the next start.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/training/trainer.h"
#include "server/job_store.h"
#include "server/model_registry.h"
#include "server/training_metrics.h"

namespace asr::server {

// SUCCEEDED, FAILED or CANCELLED: the job will not run again.
bool IsTerminal(asr::v1::JobState s);

struct JobManagerOptions {
  std::string state_dir;  // jobs under state_dir/jobs/<id>
  std::string data_root;  // datasets and manifests
  int max_concurrent_jobs = 1;
  int compute_threads = 1;  // LibTorch + BLAS threads for every job
};

class JobManager {
 public:
  JobManager(JobStore* store, ModelRegistry* models, TrainingMetrics* metrics, JobManagerOptions options);
  ~JobManager();

  absl::Status Start();
  // Checkpoints running jobs (within one step each) and leaves them queued.
  void Stop();

  // Validates config and dataset (INVALID_ARGUMENT naming the field,
  // NOT_FOUND for an unknown dataset or missing manifest), queues the job.
  absl::StatusOr<asr::v1::Job> Create(const asr::v1::TrainingConfig& config,
                                      const asr::v1::DatasetSpec& dataset);
  absl::StatusOr<asr::v1::Job> Get(const std::string& id);
  // page_token is the offset of the next page; "" when there is none.
  absl::StatusOr<std::pair<std::vector<asr::v1::Job>, std::string>> List(asr::v1::JobState state,
                                                                         int page_size,
                                                                         const std::string& page_token);
  // QUEUED -> CANCELLED at once; RUNNING -> stops within one step.
  absl::StatusOr<asr::v1::Job> Cancel(const std::string& id);
  // Only jobs that are not queued or running; removes their directory.
  absl::Status Delete(const std::string& id);
  absl::StatusOr<std::vector<asr::v1::Checkpoint>> Checkpoints(const std::string& id);
  // step 0: the job's exported model (train.export_model); otherwise that checkpoint.
  absl::StatusOr<asr::v1::ModelVersion> Publish(const std::string& id, const std::string& name, int64_t step);

  // `notify` runs after every event appended for job_id (on a training
  // thread); it must not block. RemoveListener waits for running calls.
  int64_t AddListener(const std::string& job_id, std::function<void()> notify);
  void RemoveListener(int64_t token);
  JobStore* store() { return store_; }
  std::string JobDir(const std::string& id) const;

 private:
  struct Running {
    std::atomic<bool> cancel{false};
    bool shutdown = false;  // guarded by JobManager::mu_
  };

  void Work();
  void RunJob(const std::string& id);
  absl::StatusOr<TrainingConfig> Resolve(const asr::v1::TrainingConfig& config,
                                         const asr::v1::DatasetSpec& dataset);
  absl::Status Record(asr::v1::Job& job, asr::v1::JobEvent event);
  void Notify(const std::string& job_id);
  void UpdateJobCounts();

  JobStore* store_;
  ModelRegistry* models_;
  TrainingMetrics* metrics_;
  JobManagerOptions opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;                            // guarded by mu_
  std::map<std::string, std::shared_ptr<Running>> running_;  // guarded by mu_
  bool stopping_ = false;                                    // guarded by mu_
  std::vector<std::thread> workers_;

  std::mutex listeners_mu_;
  int64_t next_listener_ = 1;                                                   // guarded by listeners_mu_
  std::map<int64_t, std::pair<std::string, std::function<void()>>> listeners_;  // guarded by listeners_mu_
};

}  // namespace asr::server
