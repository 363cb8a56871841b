#include "server/job_manager.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/base/atomic_file.h"
#include "model/training/checkpoint.h"
#include "model/training/memory_estimate.h"
#include "nlohmann/json.hpp"
#include "server/config_convert.h"
#include "server/paths.h"
#include "spdlog/spdlog.h"

namespace asr::server {
namespace {

using google::protobuf::util::TimeUtil;
namespace fs = std::filesystem;

std::string NewJobId() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "job-%012llx", static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return buf;
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
        c->set_dev_cer(job->has_best() ? job->best().cer() : -1);
        *c->mutable_create_time() = TimeUtil::GetCurrentTime();
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

bool IsTerminal(asr::v1::JobState s) {
  return s == asr::v1::SUCCEEDED || s == asr::v1::FAILED || s == asr::v1::CANCELLED;
}

JobManager::JobManager(JobStore* store, ModelRegistry* models, TrainingMetrics* metrics, Runner* runner,
                       JobManagerOptions options)
    : store_(store), models_(models), metrics_(metrics), runner_(runner), opts_(std::move(options)) {}

JobManager::~JobManager() { Stop(); }

std::string JobManager::JobDir(const std::string& id) const {
  return (fs::path(opts_.state_dir) / "jobs" / id).string();
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
  auto running = store_->JobsInState(asr::v1::RUNNING);
  if (!running.ok()) return running.status();
  auto queued = store_->JobsInState(asr::v1::QUEUED);
  if (!queued.ok()) return queued.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (asr::v1::Job& job : *running) {  // interrupted by a crash: resume first
      asr::v1::JobEvent e;
      if (CancelRequested(job.id())) {  // a cancel that returned OK before the crash
        e.set_message("server restarted; the job was cancelled before, so it does not resume");
        if (absl::Status st = Record(job, e); !st.ok()) return st;
        job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
        *job.mutable_end_time() = TimeUtil::GetCurrentTime();
        if (absl::Status st = Record(job, StateEvent(asr::v1::CANCELLED)); !st.ok()) return st;
        continue;
      }
      job.set_state(asr::v1::QUEUED);
      e.set_message("server restarted; the job will resume from its newest valid checkpoint");
      if (absl::Status st = Record(job, e); !st.ok()) return st;
      if (absl::Status st = Record(job, StateEvent(asr::v1::QUEUED)); !st.ok()) return st;
      queue_.push_back(job.id());
    }
    // Jobs without workers (those with them are swept when they resume).
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(opts_.state_dir) / "jobs", ec)) {
      if (!fs::exists(entry.path() / "workers")) RemoveJobLeftovers(entry.path().filename().string());
    }
    for (const asr::v1::Job& job : *queued) queue_.push_back(job.id());
    stopping_ = false;
  }
  UpdateJobCounts();
  for (int i = 0; i < std::max(1, opts_.max_concurrent_jobs); ++i) workers_.emplace_back([this] { Work(); });
  workers_.emplace_back([this] { PollListeners(); });
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
}

absl::Status JobManager::Record(asr::v1::Job& job, asr::v1::JobEvent event) {
  *event.mutable_time() = TimeUtil::GetCurrentTime();
  if (event.has_state()) job.set_state(event.state());
  auto failed = [&](const absl::Status& st) {
    spdlog::error("job {}: the job store refused a write: {}", job.id(), st.ToString());
    return st;
  };
  if (absl::Status st = store_->PutJob(job); !st.ok()) return failed(st);
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

void JobManager::PollListeners() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    {
      std::lock_guard<std::mutex> listeners(listeners_mu_);
      for (auto& [token, l] : listeners_) l.second();
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
  job.set_id(NewJobId());
  *job.mutable_config() = *effective;
  *job.mutable_dataset() = dataset;
  *job.mutable_resources() = resources;
  job.mutable_resources()->set_processes(std::max(1, resources.processes()));
  *job.mutable_create_time() = TimeUtil::GetCurrentTime();
  if (absl::Status st = Record(job, StateEvent(asr::v1::QUEUED)); !st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job.id());
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
  if (job->state() == asr::v1::QUEUED) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    *job->mutable_end_time() = TimeUtil::GetCurrentTime();
    job->set_stop_reason(fields::NameOf(StopReason::kCancelled));
    if (absl::Status st = Record(*job, StateEvent(asr::v1::CANCELLED)); !st.ok()) return st;
  } else if (auto it = running_.find(id); it != running_.end()) {
    // Durable before OK: a server that dies before the workers have
    // stopped does not resume the job when it restarts.
    if (absl::Status st = WriteFileAtomically(JobDir(id) + "/cancel_requested", "cancel requested\n");
        !st.ok())
      return st;
    it->second->cancel = true;
    spdlog::info("job {}: cancel requested; stopping its workers", id);
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
    cp.set_dev_cer(c->state.best_dev_cer <= 1 ? c->state.best_dev_cer : -1);
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
    info.set_dev_cer(c->state.best_dev_cer <= 1 ? c->state.best_dev_cer : -1);
  }
  *info.mutable_create_time() = TimeUtil::GetCurrentTime();
  return models_->Publish(name, source, info);
}

void JobManager::Work() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      running_[id] = std::make_shared<Running>();
    }
    const bool again = RunJob(id);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(id);
      if (again && !stopping_) queue_.push_front(id);  // stopping: Start() finds it QUEUED
    }
    cv_.notify_all();
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
                                                            Running& run, int64_t log_offset) {
  const std::string id = job.id();
  std::ifstream log;
  std::string pending, stop_reason;
  int64_t last_step = job.progress().step();
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
      if (!p.ok()) continue;  // not an event (a torn or foreign line): nothing to report
      if (p->kind == ProgressEvent::Kind::kDone) stop_reason = p->message;
      OnWorkerEvent(*p, job, &last_step);
    }
    pending.erase(0, start);
  };
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> terminated;
  bool killed = false;
  while (true) {
    drain();
    if (auto outcome = group.Poll()) {
      drain();
      return {*outcome, stop_reason};
    }
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

void JobManager::OnWorkerEvent(const ProgressEvent& p, asr::v1::Job& job, int64_t* last_step) {
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
  (void)Record(job, std::move(e));
}

bool JobManager::RunJob(const std::string& id) {
  std::shared_ptr<Running> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run = running_[id];
  }
  auto loaded = store_->GetJob(id);
  if (!loaded.ok() || loaded->state() != asr::v1::QUEUED) return false;
  asr::v1::Job job = *loaded;
  const std::string dir = JobDir(id), handle_path = dir + "/workers";
  // Workers of a server that died: followed again if they outlived it
  // (Slurm), else (local ones) given time to finish their checkpoint.
  std::unique_ptr<WorkerGroup> attached;
  if (std::ifstream in(handle_path); in) {
    std::string handle;
    std::getline(in, handle);
    attached = runner_->Reattach(handle, opts_.worker_stop_grace_seconds);
  }
  if (!attached) RemoveJobLeftovers(id);
  if (CancelRequested(id)) {  // cancelled while its last launch was failing
    job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
    *job.mutable_end_time() = TimeUtil::GetCurrentTime();
    (void)Record(job, StateEvent(asr::v1::CANCELLED));
    return false;
  }
  job.set_attempts(job.attempts() + 1);
  if (!job.has_start_time()) *job.mutable_start_time() = TimeUtil::GetCurrentTime();
  (void)Record(job, StateEvent(asr::v1::RUNNING));

  auto end = [&](asr::v1::JobState state, const std::string& error) -> bool {
    if (!error.empty()) {
      job.set_error(error);
      asr::v1::JobEvent e;
      e.set_error(error);
      (void)Record(job, e);
    }
    *job.mutable_end_time() = TimeUtil::GetCurrentTime();
    (void)Record(job, StateEvent(state));
    return false;
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
    std::tie(outcome, stop_reason) = Supervise(*attached, job, *run, log_offset);
  } else if (auto group = runner_->Launch(*launch); !group.ok()) {
    outcome.detail = std::string(group.status().message());
  } else {
    {
      std::ofstream out(handle_path, std::ios::trunc);
      out << (*group)->Handle() << "\n";
    }
    std::tie(outcome, stop_reason) = Supervise(**group, job, *run, log_offset);
  }
  fs::remove(handle_path, ec);  // the workers have ended
  metrics_->ForgetJob(id);
  bool shutdown;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown = run->shutdown;
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
        (void)Record(job, StateEvent(asr::v1::QUEUED));  // resumes at the next start
        return false;
      }
      job.set_stop_reason(fields::NameOf(StopReason::kCancelled));
      return end(asr::v1::CANCELLED, "");
    case Kind::kInvalidInput:
    case Kind::kOverMemory:
      return end(asr::v1::FAILED, outcome.detail);
    case Kind::kFailed:
      if (run->cancel && !shutdown) {  // failed while stopping for a cancel: it stays cancelled
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
  return true;
}

}  // namespace asr::server
