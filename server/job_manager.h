// JobManager: the control plane of training. Jobs queue in the job store
// (oldest first); max_concurrent_jobs threads (default 1) claim them
// (JobStore::ClaimQueuedJob: one replica gets each) and run each as
// asr-train worker processes started by a Runner (worker_runner.h), never
// inside the server, in its own directory JOBS/<id>: job_config.json (the
// resolved config), checkpoints/, train_log.jsonl (rank 0's events, which
// this class follows and turns into job events and metrics), logs/rank-K.log,
// workers (the runner's handle while they run). Every transition and
// event is written to the job store before listeners (WatchJob streams)
// hear of it. Cancel = SIGTERM to the workers: they stop within one step,
// rank 0 checkpoints, and they are killed if they have not ended after
// worker_stop_grace_seconds. Workers that fail (a crash, an OOM kill, a
// lost peer) are restarted from the newest checkpoint until the job has
// failed max_failures times, then it is FAILED with the reason; a config
// the worker rejects fails at once. After a crash or kill -9 of the server,
// its RUNNING jobs are queued again (by itself when it restarts under the
// same replica name, or with a SQLite store; by another replica once its
// lease has expired); their workers (which got SIGTERM when the server
// died) finish their checkpoint and the job resumes from it with the step
// counter continuing. A graceful Stop() checkpoints running jobs and
// queues them again, for any replica.
//
// Replicas sharing a PostgreSQL store and a jobs directory: each holds a
// lease in the store, renewed every lease/3 seconds. Every write of a
// running job is fenced by its owner (JobStore::PutJob), so a replica whose
// job was taken over stops its workers at the next event; one that cannot
// renew its lease for lease_seconds stops its workers itself (they
// checkpoint) before anyone can take the job over. Cancel on any replica
// writes JOBS/<id>/cancel_requested, which the owner polls every second.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/training/progress.h"
#include "model/training/training_config.h"
#include "server/job_store.h"
#include "server/model_registry.h"
#include "server/training_metrics.h"
#include "server/worker_runner.h"

namespace asr::server {

// SUCCEEDED, FAILED or CANCELLED: the job will not run again.
bool IsTerminal(asr::v1::JobState s);

struct JobManagerOptions {
  std::string jobs_dir;       // a job's files under jobs_dir/<id>; shared by replicas
  std::string replica_name;   // this server's name in the store (unique among replicas); "" = the host name
  double lease_seconds = 30;  // a replica silent this long loses its running jobs
  std::string data_root;      // datasets and manifests
  int max_concurrent_jobs = 1;
  int compute_threads = 1;                  // LibTorch + BLAS threads per worker, unless the job says
  std::string worker_binary;                // asr-train
  int max_processes_per_job = 8;            // JobResources.processes limit
  int max_failures = 3;                     // failed launches that end a job FAILED
  double worker_stop_grace_seconds = 60;    // SIGTERM -> SIGKILL
  double collective_timeout_seconds = 120;  // asr-train --collective-timeout
  // A job's estimated memory (all its workers) must fit, and its workers'
  // resident memory is held to it (WorkerLaunch). 0 = no limit.
  int64_t job_memory_limit_bytes = 0;
};

class JobManager {
 public:
  // `runner` starts the workers (not owned; outlives this).
  JobManager(JobStore* store, ModelRegistry* models, TrainingMetrics* metrics, Runner* runner,
             JobManagerOptions options);
  ~JobManager();

  absl::Status Start();
  // Checkpoints running jobs (within one step each) and leaves them queued.
  void Stop();

  // Validates config and dataset (INVALID_ARGUMENT naming the field,
  // NOT_FOUND for an unknown dataset or missing manifest), queues the job.
  // INVALID_ARGUMENT also for resources out of the server's limits;
  // RESOURCE_EXHAUSTED when its estimated memory exceeds the per-job limit.
  absl::StatusOr<asr::v1::Job> Create(const asr::v1::TrainingConfig& config,
                                      const asr::v1::DatasetSpec& dataset,
                                      const asr::v1::JobResources& resources = {});
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
  // thread), and once a second besides (another server sharing the
  // database may be running the job and appending its events); it must not
  // block. RemoveListener waits for running calls.
  int64_t AddListener(const std::string& job_id, std::function<void()> notify);
  void RemoveListener(int64_t token);
  JobStore* store() { return store_; }
  std::string JobDir(const std::string& id) const;

 private:
  struct Running {
    std::atomic<bool> cancel{false};
    bool shutdown = false;  // guarded by JobManager::mu_; the job is queued again, not cancelled
  };

  // Whether Cancel() returned OK for this job while it ran (a file in its
  // directory, so that it survives a crash of the server).
  bool CancelRequested(const std::string& id) const;
  // The job's temporary files from writes a crash interrupted; only when
  // no worker of it runs.
  void RemoveJobLeftovers(const std::string& id);
  void Work();
  // Runs one launch of a job this replica claimed to its end.
  void RunJob(asr::v1::Job job, Running& run);
  // RUNNING jobs of this replica that no thread of it runs (or, with
  // `every_owner`, any RUNNING job: one server on SQLite) are queued again,
  // or cancelled if a cancel was requested; `why` starts their event.
  absl::Status RequeueOrphans(bool every_owner, const std::string& why);
  // Renews this replica's lease, requeues the jobs of replicas that lost
  // theirs and this replica's orphans. Logs failures once.
  void Housekeep();
  // Whether the lease has not been renewed for lease_seconds.
  bool LeaseLost() const;
  // Follows a launch until its workers end: their events into the job,
  // cancellation (through any replica), a lost lease or a takeover into
  // SIGTERM (then SIGKILL). Returns how they ended and
  // the stop reason rank 0 reported ("" if none). Events are read from
  // byte `log_offset` of train_log.jsonl on, those before step
  // `skip_before_step` skipped.
  std::pair<WorkerOutcome, std::string> Supervise(WorkerGroup& group, asr::v1::Job& job, Running& run,
                                                  int64_t log_offset, int64_t skip_before_step);
  // One of rank 0's events: recorded as a job event, counted in metrics.
  // FAILED_PRECONDITION when another replica holds the job now.
  absl::Status OnWorkerEvent(const ProgressEvent& p, asr::v1::Job& job, int64_t* last_step);
  // asr-train's arguments for `job` (its config written to job_config.json).
  absl::StatusOr<WorkerLaunch> PrepareLaunch(const asr::v1::Job& job, const TrainingConfig& config);
  absl::StatusOr<TrainingConfig> Resolve(const asr::v1::TrainingConfig& config,
                                         const asr::v1::DatasetSpec& dataset);
  // Stores the job (owned by this replica while RUNNING, by none
  // otherwise) and appends `event`; FAILED_PRECONDITION when another
  // replica holds the job.
  absl::Status Record(asr::v1::Job& job, asr::v1::JobEvent event);
  void Notify(const std::string& job_id);
  // Calls every listener once a second and housekeeps every lease/3
  // seconds until Stop().
  void Tick();
  void UpdateJobCounts();

  JobStore* store_;
  ModelRegistry* models_;
  TrainingMetrics* metrics_;
  Runner* runner_;
  JobManagerOptions opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Running>> running_;  // guarded by mu_
  bool stopping_ = false;                                    // guarded by mu_
  int64_t kicks_ = 0;  // guarded by mu_; bumped when a job is queued here
  std::vector<std::thread> workers_;
  const std::string instance_;                // this process's lease token
  std::atomic<int64_t> lease_renewed_ns_{0};  // steady clock
  bool lease_failing_ = false;                // Tick thread only

  std::mutex listeners_mu_;
  int64_t next_listener_ = 1;                                                   // guarded by listeners_mu_
  std::map<int64_t, std::pair<std::string, std::function<void()>>> listeners_;  // guarded by listeners_mu_
};

}  // namespace asr::server
