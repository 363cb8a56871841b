#include "model/training/trainer.h"

#include <torch/cuda.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/compute_threads.h"
#include "model/model_io.h"
#include "model/training/data_parallel.h"
#include "model/training/evaluator.h"

namespace asr {

namespace {

ProgressEvent MessageEvent(std::string message) {
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kMessage;
  e.message = std::move(message);
  return e;
}

// The distinct words of the training transcripts, sorted.
std::vector<std::string> TrainingWords(const Dataset& data, const Vocabulary& vocab) {
  std::set<std::string> words;
  for (int64_t i = 0; i < data.size(); ++i) {
    for (absl::string_view w : absl::StrSplit(vocab.Decode(data.targets(i)), ' ', absl::SkipEmpty())) {
      words.emplace(w);
    }
  }
  return {words.begin(), words.end()};
}

// Sets the shared compute pools to one thread for its lifetime when
// `threads` > 1, then back to `threads`.
class SingleThreadedScope {
 public:
  explicit SingleThreadedScope(int threads) : restore_(threads) {
    if (restore_ > 1) SetComputeThreads(1);
  }
  ~SingleThreadedScope() {
    if (restore_ > 1) SetComputeThreads(restore_);
  }

 private:
  int restore_;
};

}  // namespace

absl::StatusOr<Cmvn> ComputeCmvn(const Dataset& data, int64_t max_utterances) {
  const int64_t n = data.size();
  if (n == 0) return absl::InvalidArgumentError("no training utterances to compute CMVN statistics from");
  const int64_t use = std::min(n, max_utterances);
  std::unique_ptr<CmvnStats> stats;
  for (int64_t k = 0; k < use; ++k) {
    auto f = data.LoadFeatures(k * n / use, /*epoch=*/-1);
    if (!f.ok()) continue;  // reported when batches load it
    if (!stats) stats = std::make_unique<CmvnStats>(static_cast<int>(f->cols));
    if (absl::Status st = stats->Accumulate(*f); !st.ok()) return st;
  }
  if (!stats) return absl::InvalidArgumentError("no training utterance could be loaded for CMVN statistics");
  return Cmvn::FromStats(*stats);
}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainingConfig& config,
                                                         const std::string& out_dir, bool resume,
                                                         ProgressCallback progress, Collective* collective) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->progress_ = std::move(progress);
  t->collective_ = collective;
  t->out_dir_ = out_dir;
  t->ckpt_dir_ = (std::filesystem::path(out_dir) / "checkpoints").string();
  std::error_code ec;
  std::filesystem::create_directories(t->ckpt_dir_, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create '", t->ckpt_dir_, "': ", ec.message()));
  if (t->writer()) {
    t->log_ = std::make_unique<std::ofstream>((std::filesystem::path(out_dir) / "train_log.jsonl").string(),
                                              std::ios::app);
  }

  const std::optional<CheckpointData> ckpt = resume ? t->NewestCheckpoint() : std::nullopt;
  t->config_ = ckpt ? ckpt->config : config;
  t->config_.audio_root = config.audio_root;
  if (ckpt) {  // the server may have moved its data root; paths come from the caller
    t->config_.train_manifest = config.train_manifest;
    t->config_.dev_manifest = config.dev_manifest;
  }
  const TrainingConfig& cfg = t->config_;
  if (absl::Status st = cfg.Validate(); !st.ok()) return st;
  if (cfg.train_manifest.empty()) return absl::InvalidArgumentError("train_manifest: required");
  if (cfg.dev_manifest.empty()) return absl::InvalidArgumentError("dev_manifest: required");
  SetComputeThreads(ResolveComputeThreads(cfg.train.threads));
  torch::manual_seed(cfg.train.seed);

  if (absl::Status st = t->LoadData(); !st.ok()) return st;
  auto cmvn =
      ckpt ? absl::StatusOr<Cmvn>(ckpt->cmvn) : ComputeCmvn(*t->train_, cfg.train.cmvn_max_utterances);
  if (!cmvn.ok()) return cmvn.status();
  t->train_->SetMaskFill(cmvn->mean());
  if (t->config_.model.lexicon.empty()) {
    t->config_.model.lexicon = TrainingWords(*t->train_, *cfg.model.MakeVocabulary());
  }
  if (absl::Status st = t->BuildModels(*cmvn); !st.ok()) return st;
  const int world = t->world_size();
  t->gradient_groups_ = cfg.train.gradient_groups > 0 ? cfg.train.gradient_groups
                                                      : world * (1 + static_cast<int>(t->replicas_.size()));
  if (t->gradient_groups_ < world) {
    return absl::InvalidArgumentError(absl::StrCat("train.gradient_groups: ", t->gradient_groups_,
                                                   " is below the world size ", world,
                                                   " (every process needs a group)"));
  }
  if (absl::Status st = t->StartFrom(ckpt ? &*ckpt : nullptr); !st.ok()) return st;
  if (collective) {
    try {
      if (absl::Status st = t->AgreeAcrossRanks(); !st.ok()) return st;
    } catch (const std::exception& e) {
      return absl::UnavailableError(e.what());
    }
  }
  const int64_t per_epoch = static_cast<int64_t>(t->train_->EpochBatches(0).size());
  t->total_steps_ = cfg.train.max_steps > 0 ? cfg.train.max_steps : per_epoch * cfg.train.epochs;
  if (t->writer())
    std::ofstream(std::filesystem::path(out_dir) / "config.json") << cfg.ToJson().dump(2) << "\n";
  return t;
}

absl::Status Trainer::AgreeAcrossRanks() {
  // Rank 0's config hash and resume step, against every rank's own.
  nlohmann::json cfg = config_.ToJson();
  cfg.erase("train_manifest"), cfg.erase("dev_manifest"), cfg.erase("audio_root");  // may differ per host
  const uint64_t hash = std::hash<std::string>()(cfg.dump());
  // Two 32-bit halves: exact in float64, whatever the backend reduces in.
  const torch::Tensor mine =
      torch::tensor({static_cast<double>(hash >> 32), static_cast<double>(hash & 0xffffffffu),
                     static_cast<double>(state_.step)},
                    torch::kFloat64);
  std::vector<torch::Tensor> root = {mine.clone()};
  collective_->Broadcast(root, 0);
  const bool same_config = torch::equal(root[0].narrow(0, 0, 2), mine.narrow(0, 0, 2));
  const bool same_step = root[0][2].item<double>() == mine[2].item<double>();
  std::vector<torch::Tensor> disagree = {
      torch::tensor({same_config ? 0.0 : 1.0, same_step ? 0.0 : 1.0}, torch::kFloat64)};
  collective_->AllReduceSum(disagree);
  if (disagree[0][0].item<double>() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        disagree[0][0].item<double>(), " of ", collective_->world_size(),
        " ranks have another config than rank 0 (every rank must get the same --config; this rank's is ",
        same_config ? "the same" : "different", ")"));
  }
  if (disagree[0][1].item<double>() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ranks would resume from different checkpoints (rank 0 from step ", root[0][2].item<double>(),
        ", this rank from step ", state_.step, "): every rank must see the same output folder"));
  }
  std::vector<torch::Tensor> params = model_->parameters();
  if (averaged_) {
    for (const torch::Tensor& p : averaged_->parameters()) params.push_back(p);
  }
  collective_->Broadcast(params, 0);
  CopyParameters(model_, replicas_);
  return absl::OkStatus();
}

std::optional<CheckpointData> Trainer::NewestCheckpoint() {
  std::vector<std::string> rejected;
  auto c = ReadNewestValidCheckpoint(ckpt_dir_, &rejected);
  for (const std::string& r : rejected) Emit(MessageEvent("rejected checkpoint: " + r));
  if (!c.ok()) {
    Emit(MessageEvent("no checkpoint to resume from; starting fresh"));
    return std::nullopt;
  }
  Emit(MessageEvent(absl::StrCat("resuming from ", c->path, " at step ", c->state.step)));
  return std::move(*c);
}

absl::Status Trainer::LoadData() {
  const TrainingConfig& cfg = config_;
  const Vocabulary vocab = *cfg.model.MakeVocabulary();
  for (bool train : {true, false}) {
    const std::string& path = train ? cfg.train_manifest : cfg.dev_manifest;
    DataReport report;
    auto utts = ReadDataset(path, &report, cfg.audio_root);
    if (!utts.ok()) return utts.status();
    auto ds = std::make_unique<Dataset>(std::move(*utts), cfg.model.features, vocab, cfg.data, train,
                                        cfg.train.seed, &report);
    for (const std::string& p : report.problems) Emit(MessageEvent("skipped " + p));
    if (ds->size() == 0)
      return absl::InvalidArgumentError(absl::StrCat("'", path, "' has no usable utterances"));
    Emit(MessageEvent(absl::StrCat(train ? "train" : "dev", ": ", ds->size(), " utterances, ",
                                   static_cast<int64_t>(ds->total_seconds() / 60), " min of audio, ",
                                   report.skipped, " skipped")));
    (train ? train_ : dev_) = std::move(ds);
  }
  return absl::OkStatus();
}

absl::Status Trainer::BuildModels(const Cmvn& cmvn) {
  const TrainingConfig& cfg = config_;
  // Constructed in this order from the seeded generator: model, replicas, average.
  model_ = AcousticModel(cfg.model, cmvn);
  if (cfg.train.device == Device::kCuda) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          "train.device: cuda requested, but this LibTorch sees no CUDA device");
    }
    // One GPU per process: a rank of a distributed job takes its local rank's.
    const int gpu = collective_ != nullptr ? collective_->local_rank() : 0;
    if (gpu >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(absl::StrCat("train.device: cuda for local rank ", gpu,
                                                        ", but this host has ", torch::cuda::device_count(),
                                                        " CUDA device(s)"));
    }
    model_->to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu)));
    if (cfg.train.precision == Precision::kBf16) model_->set_lstm_dtype(torch::kBFloat16);
  } else if (cfg.train.data_parallel) {
    for (int k = 1; k < ResolveComputeThreads(cfg.train.threads); ++k) {
      replicas_.push_back(AcousticModel(cfg.model, cmvn));
      replicas_.back()->train();
    }
  }
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(), torch::optim::AdamWOptions(cfg.optimizer.lr)
                                .betas({cfg.optimizer.betas[0], cfg.optimizer.betas[1]})
                                .eps(cfg.optimizer.eps)
                                .weight_decay(cfg.optimizer.weight_decay));
  if (cfg.train.ema_decay > 0) {
    averaged_ = AcousticModel(cfg.model, cmvn);
    averaged_->to(model_->device());
    if (cfg.train.precision == Precision::kBf16) averaged_->set_lstm_dtype(torch::kBFloat16);
  }
  int64_t parameters = 0;
  for (const torch::Tensor& p : model_->parameters()) parameters += p.numel();
  std::string message = absl::StrCat("model: ", parameters, " parameters");
  if (world_size() > 1) {
    absl::StrAppend(&message, "; each step allreduces ", (8 * parameters + (1 << 19)) >> 20,
                    " MiB of float64 gradient sums across ", world_size(), " ranks");
  }
  Emit(MessageEvent(message));
  return absl::OkStatus();
}

absl::Status Trainer::StartFrom(const CheckpointData* ckpt) {
  std::vector<AcousticModel> copies = replicas_;
  if (ckpt) {
    if (absl::Status st = RestoreCheckpoint(*ckpt, model_, *optimizer_, averaged_model()); !st.ok())
      return st;
    state_ = ckpt->state;
  }
  // The average starts from the initial weights (or, resuming from a
  // checkpoint without one, from the restored weights).
  if (averaged_ && !(ckpt && ckpt->bundle.blobs.count("averaged"))) copies.push_back(averaged_);
  CopyParameters(model_, copies);
  return absl::OkStatus();
}

double Trainer::Elapsed() const {
  return state_.elapsed_seconds +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - session_start_).count();
}

void Trainer::UpdateAverage() {
  if (!averaged_) return;
  const double n = static_cast<double>(state_.step);
  const double decay = std::min(config_.train.ema_decay, (1 + n) / (10 + n));
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> src = model_->parameters();
  std::vector<torch::Tensor> dst = averaged_->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].lerp_(src[i], 1 - decay);
}

void Trainer::Emit(ProgressEvent e) {
  if (e.step < 0) e.step = state_.step;
  if (e.epoch < 0) e.epoch = state_.epoch;
  e.elapsed_seconds = session_start_.time_since_epoch().count() ? Elapsed() : state_.elapsed_seconds;
  if (log_ && *log_) *log_ << e.ToJson().dump() << "\n" << std::flush;
  if (progress_) progress_(e);
}

absl::Status Trainer::Checkpoint() {
  if (!writer()) return absl::OkStatus();
  TrainingState s = state_;
  s.elapsed_seconds = Elapsed();
  const std::string path = CheckpointPath(ckpt_dir_, state_.step);
  const auto start = std::chrono::steady_clock::now();
  const absl::Status st = SaveCheckpoint(path, config_, model_, *optimizer_, s, averaged_model());
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kCheckpoint;
  e.checkpoint_path = path;
  e.checkpoint_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.checkpoint_failed = !st.ok();
  e.message = st.ok() ? "" : std::string(st.message());
  if (st.ok()) ApplyRetention(ckpt_dir_, config_.train.keep_last_checkpoints, state_.best_step);
  Emit(e);
  return st;
}

absl::Status Trainer::ValidateWithAllThreads(int64_t epoch) {
  if (replicas_.empty()) return Validate(epoch);
  SetComputeThreads(1 + static_cast<int>(replicas_.size()));
  const absl::Status st = Validate(epoch);
  SetComputeThreads(1);
  return st;
}

int64_t Trainer::ExportedStep() const {
  if (config_.train.export_model != ExportModel::kLast) return state_.best_step;
  return state_.history.empty() ? -1 : state_.history.back().value("step", int64_t{-1});
}

absl::Status Trainer::Validate(int64_t epoch) {
  AcousticModel& scored = averaged_ ? averaged_ : model_;
  const EvalResult r = Evaluate(scored, *dev_, config_.train.eval_beam);
  const bool best = r.cer < state_.best_dev_cer;
  if (best) {
    state_.best_dev_cer = r.cer;
    state_.best_dev_wer = r.wer;
    state_.best_step = state_.step;
    state_.epochs_without_improvement = 0;
  } else {
    ++state_.epochs_without_improvement;
  }
  if (writer() && (best || config_.train.export_model == ExportModel::kLast)) {
    const nlohmann::json meta = {
        {"step", state_.step}, {"epoch", epoch},
        {"dev_cer", r.cer},    {"dev_wer", r.wer},
        {"is_best_dev", best}, {"export_model", fields::NameOf(config_.train.export_model)}};
    if (absl::Status st = SaveModel(ExportPath(), scored, meta); !st.ok()) return st;
  }
  state_.history.push_back({{"step", state_.step},
                            {"epoch", epoch},
                            {"elapsed_seconds", Elapsed()},
                            {"dev_loss", r.loss},
                            {"dev_cer", r.cer},
                            {"dev_wer", r.wer}});
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kValidation;
  e.epoch = epoch;
  e.dev_loss = r.loss;
  e.dev_cer = r.cer;
  e.dev_wer = r.wer;
  e.is_best = best;
  Emit(e);
  return absl::OkStatus();
}

absl::StatusOr<TrainingResult> Trainer::Run(const std::atomic<bool>* cancel) {
  try {
    return RunSession(cancel);
  } catch (const std::exception& e) {  // a lost peer or collective timeout, or LibTorch
    return absl::UnavailableError(absl::StrCat("training stopped at step ", state_.step, ": ", e.what()));
  }
}

absl::StatusOr<TrainingResult> Trainer::RunSession(const std::atomic<bool>* cancel) {
  session_start_ = std::chrono::steady_clock::now();
  window_ = StepWindow{};
  window_.first_step = state_.step;
  window_.start = session_start_;
  // Data-parallel: one thread per replica, each running the shared pools
  // single-threaded; all threads again once Run returns.
  SingleThreadedScope single_threaded(replicas_.empty() ? 0 : 1 + static_cast<int>(replicas_.size()));
  const RunOptions& run = config_.train;
  TrainingLoss loss_terms;
  loss_terms.confidence_penalty = run.confidence_penalty;
  loss_terms.intermediate_ctc_weight = run.intermediate_ctc_weight;
  loss_terms.intermediate_ctc_layer = run.IntermediateCtcLayer(config_.model.num_layers);
  std::optional<StopReason> stop;
  while (!stop && state_.epoch < run.epochs) {
    auto interrupted = RunEpoch(cancel, loss_terms);
    if (!interrupted.ok()) return interrupted.status();
    if ((stop = *interrupted)) break;
    const int64_t finished = state_.epoch;
    ++state_.epoch;
    state_.batch_in_epoch = 0;
    if (absl::Status st = ValidateWithAllThreads(finished); !st.ok()) return st;
    (void)Checkpoint();
    if (run.early_stopping_patience > 0 && state_.epochs_without_improvement >= run.early_stopping_patience) {
      stop = StopReason::kEarlyStopping;
    }
  }
  if (stop == StopReason::kCancelled || stop == StopReason::kMaxSteps || stop == StopReason::kTimeBudget) {
    // Stopped inside an epoch: the final weights are validated (and
    // exported as the rule says) unless cancelled, then checkpointed.
    if (stop != StopReason::kCancelled && state_.step != ExportedStep()) {
      if (absl::Status st = ValidateWithAllThreads(state_.epoch); !st.ok()) return st;
    }
    if (absl::Status st = Checkpoint(); !st.ok()) return st;
  }
  return Finish(stop.value_or(StopReason::kCompleted));
}

absl::StatusOr<std::optional<StopReason>> Trainer::RunEpoch(const std::atomic<bool>* cancel,
                                                            const TrainingLoss& loss_terms) {
  const RunOptions& run = config_.train;
  BatchLoader loader(*train_, state_.epoch, state_.batch_in_epoch, config_.data.loader_threads,
                     config_.data.prefetch_batches, rank(), world_size(), gradient_groups_);
  while (auto batch = loader.Next()) {
    double budget_spent = 0;
    if (const std::optional<StopReason> stop = StopBefore(cancel, &budget_spent)) return stop;
    for (const std::string& p : train_->TakeProblems()) Emit(MessageEvent(p));
    state_.batch_in_epoch = batch->index + 1;
    if (batch->size() == 0 && collective_ == nullptr) continue;  // ranks skip together (TrainStep)
    const double lr =
        LearningRate(config_.optimizer, config_.schedule, state_.step, total_steps_, budget_spent);
    auto stepped = TrainStep(*batch, lr, loss_terms);
    if (!stepped.ok()) return stepped.status();
    if (!*stepped) continue;
    if (state_.step - window_.first_step >= run.log_every_steps) EmitProgress(lr);
    if (run.checkpoint_every_steps > 0 && state_.step % run.checkpoint_every_steps == 0) {
      (void)Checkpoint();  // a failed periodic checkpoint is reported; training goes on
    }
  }
  return std::nullopt;
}

std::optional<StopReason> Trainer::StopBefore(const std::atomic<bool>* cancel, double* budget_spent) const {
  const RunOptions& run = config_.train;
  bool cancelled = cancel != nullptr && cancel->load();
  const double budget = run.time_budget_minutes * 60;
  *budget_spent = budget > 0 ? Elapsed() / budget : 0;
  if (collective_ != nullptr) {
    std::vector<torch::Tensor> votes = {
        torch::tensor({cancelled ? 1.0 : 0.0, writer() ? *budget_spent : 0.0}, torch::kFloat64)};
    collective_->AllReduceSum(votes);
    cancelled = votes[0][0].item<double>() > 0;
    *budget_spent = votes[0][1].item<double>();
  }
  if (cancelled) return StopReason::kCancelled;
  if (run.max_steps > 0 && state_.step >= run.max_steps) return StopReason::kMaxSteps;
  if (*budget_spent >= 1) return StopReason::kTimeBudget;
  return std::nullopt;
}

absl::StatusOr<bool> Trainer::TrainStep(const Batch& batch, double lr, const TrainingLoss& loss_terms) {
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  model_->train();
  // Burn-in length per batch, from (seed, step): reproducible across resumes.
  std::mt19937_64 burn_rng(config_.train.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(state_.step));
  const int64_t burn_in =
      1 +
      static_cast<int64_t>(burn_rng() % static_cast<uint64_t>(std::max(1, 2 * config_.model.burn_in_frames)));
  GradientSum& sum = gradient_sum_;
  sum.allow_in_model = collective_ == nullptr;
  ForwardBackwardGroups(model_, replicas_, batch, batch.group_rows,
                        config_.model.burn_in_frames > 0 ? burn_in : 0, config_.train.seed, state_.step, &sum,
                        loss_terms);
  int64_t frames = batch.frames;
  const double loss = CombineAcrossRanks(&sum, &frames);
  if (sum.rows == 0) return false;  // no rank had a row that loaded
  bool finite = std::isfinite(loss);
  if (finite) {
    const double clip = config_.optimizer.grad_clip > 0 ? config_.optimizer.grad_clip : INFINITY;
    finite = std::isfinite(torch::nn::utils::clip_grad_norm_(model_->parameters(), clip));
  }
  if (!finite) {
    ++state_.skipped_steps;
    if (++state_.nonfinite_streak >= config_.train.max_consecutive_nonfinite) {
      return absl::InternalError(absl::StrCat(
          state_.nonfinite_streak, " consecutive steps with a non-finite loss or gradient at step ",
          state_.step, "; aborting (train.max_consecutive_nonfinite)"));
    }
    ProgressEvent e =
        MessageEvent(absl::StrCat("skipped a non-finite step (", state_.skipped_steps, " so far)"));
    e.kind = ProgressEvent::Kind::kSkippedStep;
    e.skipped_steps = state_.skipped_steps;
    Emit(e);
    return false;
  }
  optimizer_->step();
  CopyParameters(model_, replicas_);
  ++state_.step;
  UpdateAverage();
  state_.nonfinite_streak = 0;
  window_.loss_sum += loss;
  ++window_.losses;
  window_.frames += frames;
  return true;
}

double Trainer::CombineAcrossRanks(GradientSum* sum, int64_t* frames) {
  torch::NoGradGuard no_grad;
  if (collective_ != nullptr) {
    // One float64 buffer: the gradient sums, then rows, loss sum and frames.
    std::vector<torch::Tensor> parts = sum->grads;
    parts.push_back(torch::tensor(
        {static_cast<double>(sum->rows), sum->rows > 0 ? sum->loss_sum : 0.0, static_cast<double>(*frames)},
        torch::kFloat64));
    const auto start = std::chrono::steady_clock::now();
    collective_->AllReduceSum(parts);
    window_.allreduce_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sum->rows = static_cast<int64_t>(parts.back()[0].item<double>());
    sum->loss_sum = parts.back()[1].item<double>();
    *frames = static_cast<int64_t>(parts.back()[2].item<double>());
  }
  if (sum->rows == 0) return 0;
  const double loss = sum->loss_sum / static_cast<double>(sum->rows);
  if (std::isfinite(loss)) SetMeanGradient(model_, *sum);
  return loss;
}

void Trainer::EmitProgress(double lr) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - window_.start).count();
  const double sec_per_step = seconds / static_cast<double>(state_.step - window_.first_step);
  double eta = sec_per_step * static_cast<double>(std::max<int64_t>(0, total_steps_ - state_.step));
  const double budget = config_.train.time_budget_minutes * 60;
  if (budget > 0) eta = std::min(eta, std::max(0.0, budget - Elapsed()));
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kStep;
  e.total_steps = total_steps_;
  e.total_epochs = config_.train.epochs;
  e.loss = window_.loss_sum / static_cast<double>(window_.losses);
  e.learning_rate = lr;
  e.frames_per_second = static_cast<double>(window_.frames) / seconds;
  e.eta_seconds = eta;
  e.step_seconds = sec_per_step;
  e.allreduce_seconds = window_.allreduce_seconds / static_cast<double>(state_.step - window_.first_step);
  e.skipped_steps = state_.skipped_steps;
  Emit(e);
  window_ = StepWindow{};
  window_.first_step = state_.step;
  window_.start = now;
}

TrainingResult Trainer::Finish(StopReason stop) {
  TrainingResult r;
  r.steps = state_.step;
  r.epochs = state_.epoch;
  r.best_dev_cer = state_.best_dev_cer;
  r.best_dev_wer = state_.best_dev_wer;
  r.best_step = state_.best_step;
  r.model_path = ExportPath();
  r.exported_step = ExportedStep();
  r.stop_reason = stop;
  r.elapsed_seconds = Elapsed();
  r.skipped_steps = state_.skipped_steps;
  r.failed_utterances = train_->failed() + dev_->failed();
  ProgressEvent done = MessageEvent(fields::NameOf(stop));
  done.kind = ProgressEvent::Kind::kDone;
  Emit(done);
  return r;
}

}  // namespace asr
