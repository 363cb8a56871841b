#include "server/job_manager.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/base/atomic_file.h"
#include "model/training/checkpoint.h"
#include "model/training/memory_estimate.h"
#include "nlohmann/json.hpp"
#include "server/config_convert.h"
#include "server/paths.h"
#include "server/timestamps.h"
#include "spdlog/spdlog.h"

namespace asr::server {
namespace {

using google::protobuf::util::TimeUtil;
namespace fs = std::filesystem;

// `prefix` + 12 random hex digits.
std::string RandomId(const char* prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%012llx", prefix,
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return buf;
}

std::string HostName() {
  char buf[256] = {};
  return gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "";
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

asr::v1::JobEvent StateEvent(asr::v1::JobState s) {
  asr::v1::JobEvent e;
  e.set_state(s);
  return e;
}

// Translates a trainer event into a job event and updates the job record.
asr::v1::JobEvent ToJobEvent(const ProgressEvent& p, asr::v1::Job* job) {
  asr::v1::JobEvent e;
  switch (p.kind) {
    case ProgressEvent::Kind::kStep: {
      asr::v1::Progress* g = e.mutable_progress();
      g->set_step(p.step);
      g->set_total_steps(p.total_steps);
      g->set_epoch(p.epoch);
      g->set_total_epochs(p.total_epochs);
      g->set_loss(p.loss);
      g->set_learning_rate(p.learning_rate);
      g->set_frames_per_second(p.frames_per_second);
      g->set_eta_seconds(p.eta_seconds);
      g->set_elapsed_seconds(p.elapsed_seconds);
      g->set_skipped_steps(p.skipped_steps);
      *job->mutable_progress() = *g;
      break;
    }
    case ProgressEvent::Kind::kValidation: {
      asr::v1::ValidationResult* v = e.mutable_validation();
      v->set_step(p.step);
      v->set_epoch(p.epoch);
      v->set_loss(p.dev_loss);
      v->set_cer(p.dev_cer);
      v->set_wer(p.dev_wer);
      v->set_is_best(p.is_best);
      if (p.is_best) *job->mutable_best() = *v;
      job->mutable_progress()->set_step(p.step);
      break;
    }
    case ProgressEvent::Kind::kCheckpoint:
      if (p.checkpoint_failed) {
        e.set_message("checkpoint failed: " + p.message);
      } else {
        asr::v1::Checkpoint* c = e.mutable_checkpoint_saved();
        c->set_step(p.step);
        c->set_epoch(p.epoch);
        // Known here only when this step holds the best validation so far
        // (ListCheckpoints gives every checkpoint its own).
        const bool best = job->has_best() && job->best().step() == p.step;
        c->set_is_best(best);
        c->set_dev_cer(best ? job->best().cer() : -1);
        c->set_dev_wer(best ? job->best().wer() : -1);
        *c->mutable_create_time() = NowTimestamp();
      }
      break;
    case ProgressEvent::Kind::kMessage:
    case ProgressEvent::Kind::kDone:
    case ProgressEvent::Kind::kSkippedStep:
      e.set_message(p.message);
      break;
  }
  return e;
}

}  // namespace

// Dev CER and WER of the validation run at `step` (the weights a checkpoint
// at that step holds); -1 each if none ran there.
std::pair<double, double> DevErrorsAt(const TrainingState& state, int64_t step) {
  for (const nlohmann::json& v : state.history) {
    if (v.value("step", int64_t{-1}) == step) return {v.value("dev_cer", -1.0), v.value("dev_wer", -1.0)};
  }
  return {-1, -1};
}

bool IsTerminal(asr::v1::JobState s) {
  return s == asr::v1::SUCCEEDED || s == asr::v1::FAILED || s == asr::v1::CANCELLED;
}

JobManager::JobManager(JobStore* store, ModelRegistry* models, TrainingMetrics* metrics, Runner* runner,
                       JobManagerOptions options)
    : store_(store),
      models_(models),
      metrics_(metrics),
      runner_(runner),
      opts_(std::move(options)),
      instance_(RandomId("")) {
  if (opts_.replica_name.empty()) opts_.replica_name = HostName();
}

JobManager::~JobManager() { Stop(); }

std::string JobManager::JobDir(const std::string& id) const {
  return (fs::path(opts_.jobs_dir) / id).string();
}

bool JobManager::CancelRequested(const std::string& id) const {
  return fs::exists(JobDir(id) + "/cancel_requested");
}

void JobManager::RemoveJobLeftovers(const std::string& id) {
  for (const std::string& dir : {JobDir(id), JobDir(id) + "/checkpoints"}) {
    for (const std::string& path : server::RemoveInterruptedWrites(dir)) {
      spdlog::info("job {}: removed '{}', left by an interrupted write", id, path);
    }
  }
}

absl::Status JobManager::Start() {
  // A server restarted at once after a crash finds the lease of its name
  // still held by its previous process: it waits for that to expire.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(opts_.lease_seconds + 1);
  bool told = false;
  // One server on SQLite has no twin to fear: it takes its lease at once.
  const double lease = store_->shared() ? opts_.lease_seconds : 0;
  for (absl::Status st; !(st = store_->RenewLease(opts_.replica_name, instance_, lease)).ok();) {
    if (!absl::IsFailedPrecondition(st) || std::chrono::steady_clock::now() > give_up) return st;
    if (!told) spdlog::warn("{}; waiting for that lease to expire", std::string(st.message()));
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  lease_renewed_ns_ = SteadyNanos();
  if (absl::Status st = RequeueOrphans(!store_->shared(), "server restarted"); !st.ok()) return st;
  if (!store_->shared()) {  // jobs without workers (those with them are swept when they resume)
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(opts_.jobs_dir, ec)) {
      if (!fs::exists(entry.path() / "workers")) RemoveJobLeftovers(entry.path().filename().string());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  UpdateJobCounts();
  for (int i = 0; i < std::max(1, opts_.max_concurrent_jobs); ++i) workers_.emplace_back([this] { Work(); });
  workers_.emplace_back([this] { Tick(); });
  return absl::OkStatus();
}

absl::Status JobManager::RequeueOrphans(bool every_owner, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  auto running = store_->JobsInState(asr::v1::RUNNING);
  if (!running.ok()) return running.status();
  int requeued = 0;
  for (asr::v1::Job& job : *running) {
    if (running_.count(job.id()) || (!every_owner && job.replica() != opts_.replica_name)) continue;
    asr::v1::JobEvent e;
    absl::Status st;
    if (CancelRequested(job.id())) {  // a cancel that returned OK before the crash
      e.set_message(why + "; the job was cancelled before, so it does not resume");
      st = Record(job, e);
      job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
      *job.mutable_end_time() = NowTimestamp();
      if (st.ok()) st = Record(job, StateEvent(asr::v1::CANCELLED));
    } else {
      e.set_message(why + "; the job will resume from its newest valid checkpoint");
      st = Record(job, e);
      if (st.ok()) st = Record(job, StateEvent(asr::v1::QUEUED));
      requeued += st.ok();
    }
    if (!st.ok() && !absl::IsFailedPrecondition(st)) return st;  // else another replica took it
  }
  kicks_ += requeued;
  if (requeued > 0) cv_.notify_all();
  return absl::OkStatus();
}

void JobManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    for (auto& [id, r] : running_) {
      r->shutdown = true;
      r->cancel = true;
    }
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  // Another replica may take over at once what could not be queued again.
  (void)store_->ReleaseLease(opts_.replica_name, instance_);
}

bool JobManager::LeaseLost() const {
  return static_cast<double>(SteadyNanos() - lease_renewed_ns_) > opts_.lease_seconds * 1e9;
}

void JobManager::Housekeep() {
  absl::Status st = store_->RenewLease(opts_.replica_name, instance_, opts_.lease_seconds);
  if (st.ok()) lease_renewed_ns_ = SteadyNanos();
  // The events go in with the requeue: a replica may claim the job at once.
  auto events = [this](const asr::v1::Job& job) {
    asr::v1::JobEvent message;
    message.set_message(absl::StrCat("replica '", job.replica(), "' stopped renewing its lease (",
                                     opts_.lease_seconds,
                                     " s); the job will resume from its newest valid checkpoint"));
    std::vector<asr::v1::JobEvent> out = {message, StateEvent(asr::v1::QUEUED)};
    for (asr::v1::JobEvent& e : out) *e.mutable_time() = NowTimestamp();
    return out;
  };
  auto lost = st.ok() ? store_->RequeueJobsOfLostReplicas(opts_.lease_seconds, events)
                      : absl::StatusOr<std::vector<asr::v1::Job>>(st);
  if (lost.ok()) {
    for (const asr::v1::Job& job : *lost) {
      spdlog::warn("job {}: replica '{}' stopped renewing its lease; the job is queued again", job.id(),
                   job.replica());
      Notify(job.id());
    }
    if (!lost->empty()) UpdateJobCounts();
    if (!lost->empty()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++kicks_;
      }
      cv_.notify_all();
    }
    st = RequeueOrphans(false, "this replica's run of the job ended without being recorded");
  } else {
    st = lost.status();
  }
  if (st.ok() == lease_failing_) {
    lease_failing_ = !st.ok();
    if (lease_failing_) {
      spdlog::warn("replica '{}': cannot renew its lease ({}); after {} s without it its jobs' workers stop",
                   opts_.replica_name, st.ToString(), opts_.lease_seconds);
    } else {
      spdlog::info("replica '{}': lease renewed again", opts_.replica_name);
    }
  }
}

absl::Status JobManager::Record(asr::v1::Job& job, asr::v1::JobEvent event) {
  *event.mutable_time() = NowTimestamp();
  if (event.has_state()) job.set_state(event.state());
  const std::string expected_replica = job.replica();
  job.set_replica(job.state() == asr::v1::RUNNING ? opts_.replica_name : "");
  auto failed = [&](const absl::Status& st) {
    spdlog::error("job {}: the job store refused a write: {}", job.id(), st.ToString());
    return st;
  };
  if (absl::Status st = store_->PutJob(job, expected_replica); !st.ok()) return failed(st);
  const bool state_changed = event.has_state();
  if (state_changed) {
    spdlog::info("job {}: {}{}", job.id(), asr::v1::JobState_Name(event.state()),
                 job.error().empty() || event.state() != asr::v1::FAILED ? "" : " (" + job.error() + ")");
  }
  auto stored = store_->AppendEvent(job.id(), std::move(event));
  if (!stored.ok()) return failed(stored.status());
  // Gauges first: a watcher that sees the new state then scrapes sees it too.
  if (state_changed) UpdateJobCounts();
  Notify(job.id());
  return absl::OkStatus();
}

void JobManager::Tick() {
  using Clock = std::chrono::steady_clock;
  const auto lease_period = std::chrono::duration<double>(opts_.lease_seconds / 3);
  auto next_lease = Clock::now() + lease_period;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    {
      std::lock_guard<std::mutex> listeners(listeners_mu_);
      for (auto& [token, l] : listeners_) l.second();
    }
    if (Clock::now() >= next_lease) {
      Housekeep();
      next_lease = Clock::now() + lease_period;
    }
    lock.lock();
  }
}

void JobManager::Notify(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (auto& [token, l] : listeners_) {
    if (l.first == job_id) l.second();
  }
}

int64_t JobManager::AddListener(const std::string& job_id, std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const int64_t token = next_listener_++;
  listeners_[token] = {job_id, std::move(notify)};
  return token;
}

void JobManager::RemoveListener(int64_t token) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(token);
}

void JobManager::UpdateJobCounts() {
  for (auto s :
       {asr::v1::QUEUED, asr::v1::RUNNING, asr::v1::SUCCEEDED, asr::v1::FAILED, asr::v1::CANCELLED}) {
    if (auto n = store_->CountJobs(s); n.ok()) metrics_->SetJobCount(s, static_cast<double>(*n));
  }
}

absl::StatusOr<TrainingConfig> JobManager::Resolve(const asr::v1::TrainingConfig& proto,
                                                   const asr::v1::DatasetSpec& ds) {
  auto config = FromProto(proto);
  if (!config.ok()) return config.status();
  std::string root = opts_.data_root;
  std::string train = ds.train_manifest(), dev = ds.dev_manifest();
  if (!ds.dataset_id().empty()) {
    auto d = store_->GetDataset(ds.dataset_id());
    if (!d.ok())
      return absl::NotFoundError(absl::StrCat("dataset.dataset_id: '", ds.dataset_id(), "' not found"));
    root = (fs::path(opts_.data_root) / "datasets" / ds.dataset_id()).string();
    if (train.empty()) train = "train.jsonl";
    if (dev.empty()) dev = "dev.jsonl";
  } else {
    if (train.empty())
      return absl::InvalidArgumentError("dataset.train_manifest: required without a dataset_id");
    if (dev.empty()) return absl::InvalidArgumentError("dataset.dev_manifest: required without a dataset_id");
  }
  auto train_path = ConfinedPath(root, train, "dataset.train_manifest");
  if (!train_path.ok()) return train_path.status();
  auto dev_path = ConfinedPath(root, dev, "dataset.dev_manifest");
  if (!dev_path.ok()) return dev_path.status();
  for (const auto& [field, p] :
       {std::pair{"dataset.train_manifest", *train_path}, std::pair{"dataset.dev_manifest", *dev_path}}) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec) && !fs::is_directory(p, ec)) {
      return absl::NotFoundError(absl::StrCat(field, ": '", p, "' does not exist"));
    }
  }
  config->train_manifest = *train_path;
  config->dev_manifest = *dev_path;
  config->audio_root = opts_.data_root;
  config->train.threads = opts_.compute_threads;
  return config;
}

absl::StatusOr<asr::v1::Job> JobManager::Create(const asr::v1::TrainingConfig& config,
                                                const asr::v1::DatasetSpec& dataset,
                                                const asr::v1::JobResources& resources) {
  if (resources.processes() < 0 || resources.processes() > opts_.max_processes_per_job) {
    return absl::InvalidArgumentError(absl::StrCat("resources.processes: ", resources.processes(),
                                                   " not in [1, ", opts_.max_processes_per_job,
                                                   "] (the server's --max-processes-per-job)"));
  }
  if (resources.threads_per_process() < 0 || resources.threads_per_process() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("resources.threads_per_process: ", resources.threads_per_process(), " not in [0, 256]"));
  }
  if (access(opts_.worker_binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("this server cannot train: its worker binary '",
                                                      opts_.worker_binary,
                                                      "' is not an executable (set --worker-binary)"));
  }
  auto resolved = Resolve(config, dataset);
  if (!resolved.ok()) return resolved.status();
  const int processes = std::max(1, resources.processes());
  const int threads =
      resources.threads_per_process() > 0 ? resources.threads_per_process() : opts_.compute_threads;
  auto memory = EstimateTrainingMemory(*resolved, processes, threads);
  if (!memory.ok()) return memory.status();
  if (opts_.job_memory_limit_bytes > 0 && memory->per_process() * processes > opts_.job_memory_limit_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the job needs an estimated ", RoundUpMiB(memory->per_process() * processes), " MiB (", processes,
        " processes x ", memory->ToString(), "), more than the server's per-job limit of ",
        opts_.job_memory_limit_bytes >> 20, " MiB (--job-memory-limit-mb)"));
  }
  auto effective = ToProto(*resolved);
  if (!effective.ok()) return effective.status();
  asr::v1::Job job;
  job.set_id(RandomId("job-"));
  *job.mutable_config() = *effective;
  *job.mutable_dataset() = dataset;
  *job.mutable_resources() = resources;
  job.mutable_resources()->set_processes(std::max(1, resources.processes()));
  *job.mutable_create_time() = NowTimestamp();
  if (absl::Status st = Record(job, StateEvent(asr::v1::QUEUED)); !st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++kicks_;
  }
  cv_.notify_all();
  return job;
}

absl::StatusOr<asr::v1::Job> JobManager::Get(const std::string& id) { return store_->GetJob(id); }

absl::StatusOr<std::pair<std::vector<asr::v1::Job>, std::string>> JobManager::List(asr::v1::JobState state,
                                                                                   int page_size,
                                                                                   const std::string& token) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must be >= 0");
  const int64_t size = page_size == 0 ? 50 : std::min(page_size, 500);
  int64_t offset = 0;
  if (!token.empty() && (!absl::SimpleAtoi(token, &offset) || offset < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("page_token: '", token, "' is not a token from ListJobs"));
  }
  auto jobs = store_->ListJobs(state, size + 1, offset);
  if (!jobs.ok()) return jobs.status();
  std::string next;
  if (static_cast<int64_t>(jobs->size()) > size) {
    jobs->pop_back();
    next = absl::StrCat(offset + size);
  }
  return std::make_pair(std::move(*jobs), next);
}

absl::StatusOr<asr::v1::Job> JobManager::Cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = store_->GetJob(id);
  if (!job.ok()) return job.status();
  if (IsTerminal(job->state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", id, "' is ", asr::v1::JobState_Name(job->state()), "; there is nothing to cancel"));
  }
  if (job->state() == asr::v1::QUEUED) {
    asr::v1::Job cancelled = *job;
    *cancelled.mutable_end_time() = NowTimestamp();
    cancelled.set_stop_reason(fields::NameOf(StopReason::kCancelled));
    const absl::Status st = Record(cancelled, StateEvent(asr::v1::CANCELLED));
    if (st.ok()) return cancelled;
    if (!absl::IsFailedPrecondition(st)) return st;
    job = store_->GetJob(id);  // a replica claimed it meanwhile: stop it as a running job
    if (!job.ok()) return job.status();
  }
  if (job->state() == asr::v1::RUNNING) {
    // Durable before OK: a server that dies before the workers have
    // stopped does not resume the job. The replica running it (this one or
    // another sharing the jobs directory) polls the file.
    std::error_code ec;
    fs::create_directories(JobDir(id), ec);
    if (absl::Status st = WriteFileAtomically(JobDir(id) + "/cancel_requested", "cancel requested\n");
        !st.ok())
      return st;
    if (auto it = running_.find(id); it != running_.end()) {
      it->second->cancel = true;
      spdlog::info("job {}: cancel requested; stopping its workers", id);
    } else {
      spdlog::info("job {}: cancel requested; replica '{}', which runs it, stops its workers", id,
                   job->replica());
    }
  }
  return job;
}

absl::Status JobManager::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = store_->GetJob(id);
  if (!job.ok()) return job.status();
  if (!IsTerminal(job->state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("job '", id, "' is ", asr::v1::JobState_Name(job->state()), "; cancel it first"));
  }
  if (absl::Status st = store_->DeleteJob(id); !st.ok()) return st;
  std::error_code ec;
  fs::remove_all(JobDir(id), ec);
  UpdateJobCounts();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<asr::v1::Checkpoint>> JobManager::Checkpoints(const std::string& id) {
  auto job = store_->GetJob(id);
  if (!job.ok()) return job.status();
  std::vector<asr::v1::Checkpoint> out;
  for (const std::string& path : ListCheckpoints(JobDir(id) + "/checkpoints")) {
    auto c = ReadCheckpoint(path);
    if (!c.ok()) continue;  // being written, or corrupt: not offered
    asr::v1::Checkpoint cp;
    cp.set_step(c->state.step);
    cp.set_epoch(c->state.epoch);
    const auto [cer, wer] = DevErrorsAt(c->state, c->state.step);
    cp.set_dev_cer(cer);
    cp.set_dev_wer(wer);
    cp.set_is_best(job->has_best() && job->best().step() == c->state.step);
    std::error_code ec;
    cp.set_size_bytes(static_cast<int64_t>(fs::file_size(path, ec)));
    const auto mtime = fs::last_write_time(path, ec);
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
        mtime - fs::file_time_type::clock::now() + std::chrono::system_clock::now().time_since_epoch());
    *cp.mutable_create_time() = TimeUtil::SecondsToTimestamp(secs.count());
    out.push_back(cp);
  }
  return out;
}

absl::StatusOr<asr::v1::ModelVersion> JobManager::Publish(const std::string& id, const std::string& name,
                                                          int64_t step) {
  if (absl::Status st = ModelRegistry::ValidateName(name); !st.ok()) return st;
  auto job = store_->GetJob(id);
  if (!job.ok()) return job.status();
  asr::v1::ModelVersion info;
  info.set_job_id(id);
  std::string source;
  if (step <= 0) {
    source = JobDir(id) + "/model.asrmodel";
    if (!fs::exists(source)) {
      return absl::FailedPreconditionError(absl::StrCat("job '", id, "' has no validated model yet"));
    }
    // Best by dev CER or latest validated (train.export_model): the registry
    // reads step and dev error rates from the file it copies.
  } else {
    source = CheckpointPath(JobDir(id) + "/checkpoints", step);
    auto c = ReadCheckpoint(source);
    if (!c.ok())
      return absl::NotFoundError(absl::StrCat("job '", id, "' has no valid checkpoint at step ", step));
    info.set_step(step);
    const auto [cer, wer] = DevErrorsAt(c->state, step);
    info.set_dev_cer(cer);
    info.set_dev_wer(wer);
  }
  *info.mutable_create_time() = NowTimestamp();
  return models_->Publish(name, source, info);
}

void JobManager::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::optional<asr::v1::Job> job;
    if (!LeaseLost()) {  // without a lease, another replica may take what this one starts
      auto claimed = store_->ClaimQueuedJob(opts_.replica_name);
      if (claimed.ok()) job = std::move(*claimed);
    }
    if (!job) {  // none queued (or the store is down): look again within a second, or when kicked
      const int64_t seen = kicks_;
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || kicks_ != seen; });
      continue;
    }
    const std::string id = job->id();
    auto run = std::make_shared<Running>();
    running_[id] = run;
    lock.unlock();
    RunJob(std::move(*job), *run);
    lock.lock();
    running_.erase(id);
  }
}

absl::StatusOr<WorkerLaunch> JobManager::PrepareLaunch(const asr::v1::Job& job,
                                                       const TrainingConfig& config) {
  const std::string dir = JobDir(job.id());
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string config_path = dir + "/job_config.json";
  {
    std::ofstream out(config_path + ".tmp", std::ios::trunc);
    out << config.ToJson().dump(2) << "\n";
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write '", config_path, ".tmp'"));
  }
  fs::rename(config_path + ".tmp", config_path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot write '", config_path, "': ", ec.message()));
  const int threads = job.resources().threads_per_process() > 0 ? job.resources().threads_per_process()
                                                                : opts_.compute_threads;
  WorkerLaunch launch;
  launch.job_id = job.id();
  launch.argv = {opts_.worker_binary,
                 "--config",
                 config_path,
                 "--out",
                 dir,
                 "--resume",
                 "--threads",
                 std::to_string(threads),
                 "--audio-root",
                 config.audio_root,
                 "--collective-timeout",
                 absl::StrCat(opts_.collective_timeout_seconds)};
  launch.log_dir = dir + "/logs";
  launch.processes = std::max(1, job.resources().processes());
  launch.memory_limit_bytes = opts_.job_memory_limit_bytes;
  return launch;
}

std::pair<WorkerOutcome, std::string> JobManager::Supervise(WorkerGroup& group, asr::v1::Job& job,
                                                            Running& run, int64_t log_offset,
                                                            int64_t skip_before_step) {
  const std::string id = job.id();
  std::ifstream log;
  std::string pending, stop_reason;
  int64_t last_step = job.progress().step();
  bool taken_over = false;  // another replica holds the job now
  // Rank 0's new lines of train_log.jsonl into job events and metrics.
  auto drain = [&] {
    if (!log.is_open()) {
      log.open(JobDir(id) + "/train_log.jsonl", std::ios::binary);
      if (!log.is_open()) return;
      log.seekg(log_offset);
    }
    log.clear();
    std::string chunk((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    pending += chunk;
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      const nlohmann::json line = nlohmann::json::parse(pending.substr(start, nl - start), nullptr, false);
      auto p = ProgressEvent::FromJson(line);
      if (!p.ok()) continue;                     // not an event (a torn or foreign line): nothing to report
      if (p->step < skip_before_step) continue;  // recorded by the server that launched the workers
      if (p->kind == ProgressEvent::Kind::kDone) stop_reason = p->message;
      if (absl::IsFailedPrecondition(OnWorkerEvent(*p, job, &last_step))) taken_over = true;
    }
    pending.erase(0, start);
  };
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> terminated;
  bool killed = false;
  for (int64_t polls = 0;; ++polls) {
    drain();
    if (auto outcome = group.Poll()) {
      drain();
      return {*outcome, stop_reason};
    }
    if (!terminated && (taken_over || LeaseLost())) {
      spdlog::warn("job {}: {}; stopping its workers (they checkpoint) so that another replica resumes it",
                   id, taken_over ? "another replica took the job over" : "this replica lost its lease");
      std::lock_guard<std::mutex> lock(mu_);
      run.shutdown = true;
      run.cancel = true;
    }
    if (polls % 10 == 0 && CancelRequested(id)) run.cancel = true;  // perhaps through another replica
    if (run.cancel && !terminated) {
      group.Terminate();
      terminated = Clock::now();
    }
    if (terminated && !killed &&
        Clock::now() - *terminated > std::chrono::duration<double>(opts_.worker_stop_grace_seconds)) {
      group.Kill();
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::Status JobManager::OnWorkerEvent(const ProgressEvent& p, asr::v1::Job& job, int64_t* last_step) {
  asr::v1::JobEvent e = ToJobEvent(p, &job);
  // Every event carries the step; steps between progress logs count too.
  if (p.step > *last_step) {
    metrics_->OnSteps(static_cast<double>(p.step - *last_step));
    *last_step = p.step;
  }
  if (p.kind == ProgressEvent::Kind::kStep) {
    metrics_->OnProgress(job.id(), p.loss, p.learning_rate, p.frames_per_second);
  } else if (p.kind == ProgressEvent::Kind::kValidation) {
    metrics_->OnValidation(job.id(), p.dev_cer, p.dev_wer);
    spdlog::info("job {}: validation at step {}: dev CER {:.4f}, WER {:.4f}{}", job.id(), p.step, p.dev_cer,
                 p.dev_wer, p.is_best ? " (best)" : "");
  } else if (p.kind == ProgressEvent::Kind::kCheckpoint) {
    metrics_->OnCheckpoint(p.checkpoint_seconds, p.checkpoint_failed);
    if (p.checkpoint_failed) {
      spdlog::warn("job {}: checkpoint at step {} failed: {}", job.id(), p.step, p.message);
    } else {
      spdlog::info("job {}: checkpoint at step {} written in {:.2f} s", job.id(), p.step,
                   p.checkpoint_seconds);
    }
  } else if (p.kind == ProgressEvent::Kind::kSkippedStep) {
    metrics_->OnSkippedSteps(1);
  }
  return Record(job, std::move(e));
}

void JobManager::RunJob(asr::v1::Job job, Running& run) {
  const std::string id = job.id(), dir = JobDir(id), handle_path = dir + "/workers";
  // Workers of a server that died: followed again if they outlived it
  // (Slurm), else (local ones, on this host) given time to finish their
  // checkpoint. The handle's second line names the host local workers ran on.
  std::unique_ptr<WorkerGroup> attached;
  if (std::ifstream in(handle_path); in) {
    std::string handle, host;
    std::getline(in, handle);
    std::getline(in, host);
    if (absl::StartsWith(handle, "local:") && absl::StartsWith(host, "host ") &&
        host.substr(5) != HostName()) {
      spdlog::info("job {}: its last workers ran on {}, not here; not waiting for them", id, host);
    } else {
      attached = runner_->Reattach(handle, opts_.worker_stop_grace_seconds);
    }
  }
  if (!attached) RemoveJobLeftovers(id);
  if (CancelRequested(id)) {  // cancelled while its last launch was failing, or while it was claimed
    job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
    *job.mutable_end_time() = NowTimestamp();
    (void)Record(job, StateEvent(asr::v1::CANCELLED));
    return;
  }
  job.set_attempts(job.attempts() + 1);
  if (!job.has_start_time()) *job.mutable_start_time() = NowTimestamp();
  if (store_->shared()) {
    asr::v1::JobEvent e;
    e.set_message(
        absl::StrCat("replica '", opts_.replica_name, "' runs the job (attempt ", job.attempts(), ")"));
    if (!Record(job, e).ok()) return;  // taken over already, or the store is down: Housekeep sorts it out
  }
  if (!Record(job, StateEvent(asr::v1::RUNNING)).ok()) return;

  auto end = [&](asr::v1::JobState state, const std::string& error) {
    if (!error.empty()) {
      job.set_error(error);
      asr::v1::JobEvent e;
      e.set_error(error);
      (void)Record(job, e);
    }
    *job.mutable_end_time() = NowTimestamp();
    (void)Record(job, StateEvent(state));
  };
  auto config = Resolve(job.config(), job.dataset());
  if (!config.ok()) return end(asr::v1::FAILED, std::string(config.status().message()));
  auto launch = PrepareLaunch(job, *config);
  if (!launch.ok()) return end(asr::v1::FAILED, std::string(launch.status().message()));
  std::error_code ec;
  const auto log_size = fs::file_size(dir + "/train_log.jsonl", ec);
  const int64_t log_offset = ec ? 0 : static_cast<int64_t>(log_size);

  WorkerOutcome outcome;
  std::string stop_reason;
  if (attached) {
    asr::v1::JobEvent e;
    e.set_message("found the job's workers still running (" + attached->Handle() + "); following them");
    (void)Record(job, e);
    // From the start of the log: what they wrote while no server followed
    // them is recorded too.
    std::tie(outcome, stop_reason) = Supervise(*attached, job, run, 0, job.progress().step());
  } else if (auto group = runner_->Launch(*launch); !group.ok()) {
    outcome.detail = std::string(group.status().message());
  } else {
    {
      std::ofstream out(handle_path, std::ios::trunc);
      out << (*group)->Handle() << "\nhost " << HostName() << "\n";
    }
    std::tie(outcome, stop_reason) = Supervise(**group, job, run, log_offset, 0);
  }
  fs::remove(handle_path, ec);  // the workers have ended
  metrics_->ForgetJob(id);
  bool shutdown;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown = run.shutdown;
  }
  using Kind = WorkerOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kSucceeded:
      job.set_stop_reason(stop_reason.empty() ? fields::NameOf(StopReason::kCompleted) : stop_reason);
      return end(asr::v1::SUCCEEDED, "");
    case Kind::kCancelled:
    case Kind::kKilled:
      if (outcome.kind == Kind::kKilled) {
        asr::v1::JobEvent e;
        e.set_message(outcome.detail);
        (void)Record(job, e);
      }
      if (shutdown) {
        (void)Record(job, StateEvent(asr::v1::QUEUED));  // resumes here at the next start, or elsewhere
        return;
      }
      job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
      return end(asr::v1::CANCELLED, "");
    case Kind::kInvalidInput:
    case Kind::kOverMemory:
      return end(asr::v1::FAILED, outcome.detail);
    case Kind::kFailed:
      if (run.cancel && !shutdown) {  // failed while stopping for a cancel: it stays cancelled
        job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
        return end(asr::v1::CANCELLED, "");
      }
      break;
  }
  job.set_failures(job.failures() + 1);
  if (job.failures() >= opts_.max_failures) {
    return end(asr::v1::FAILED, absl::StrCat("the workers failed ", job.failures(), " times (the server's ",
                                             "--max-job-failures); the last time: ", outcome.detail));
  }
  asr::v1::JobEvent e;
  e.set_message(absl::StrCat("the workers failed (", job.failures(), " of ", opts_.max_failures,
                             " failures allowed): ", outcome.detail,
                             "; restarting from the newest checkpoint"));
  (void)Record(job, e);
  (void)Record(job, StateEvent(asr::v1::QUEUED));
}

}  // namespace asr::server
