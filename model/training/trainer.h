// Trainer: CTC training of an AcousticModel from a TrainingConfig. AdamW,
// linear warmup then decay, gradient clipping, non-finite steps skipped and
// counted (abort after max_consecutive_nonfinite in a row), validation
// after every epoch (loss, greedy CER/WER), the best model exported to
// OUT/model.asrmodel (or the latest validated one: train.export_model),
// optional early stopping and time budget, periodic atomic checkpoints
// (OUT/checkpoints) with retention, exact resume, and progress events for
// CLIs and the service. With train.ema_decay, the model validated and
// exported is a moving average of the weights. On CPU with several
// threads, data-parallel across model replicas (data_parallel.h); across
// processes (and hosts) with a Collective (collective.h): every batch split
// between the ranks, gradients summed every step, rank 0 the only one that
// writes. Deterministic on CPU for a fixed seed, whatever the thread count
// and world size up to floating-point summation order. Used by asr-train
// and the job manager.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "model/training/checkpoint.h"
#include "model/training/collective.h"
#include "model/training/data_parallel.h"
#include "model/training/dataset.h"
#include "model/training/progress.h"
#include "model/training/training_config.h"

namespace torch::optim {
class AdamW;
}

namespace asr {

struct TrainingResult {
  int64_t steps = 0;
  int64_t epochs = 0;
  double best_dev_cer = 0, best_dev_wer = 0;
  int64_t best_step = -1;
  std::string model_path;      // exported model (OUT/model.asrmodel)
  int64_t exported_step = -1;  // its step: best_step, or the last validated with train.export_model "last"
  StopReason stop_reason = StopReason::kCompleted;
  double elapsed_seconds = 0;
  int64_t skipped_steps = 0;
  int64_t failed_utterances = 0;
};

class Trainer {
 public:
  // Reads the data, prepares CMVN (or the checkpoint's) and the model.
  // With resume, continues from the newest valid checkpoint in
  // OUT/checkpoints (its stored config wins); without one, starts fresh.
  // With `collective` (not owned; outlives the Trainer), this process is
  // one rank of a job: every rank must pass the same config and see the
  // same OUT (a shared folder across hosts); ranks that disagree on the
  // config or the checkpoint to resume from fail at once, and the
  // parameters are broadcast from rank 0. Only rank 0 writes OUT.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainingConfig& config,
                                                         const std::string& out_dir, bool resume,
                                                         ProgressCallback progress,
                                                         Collective* collective = nullptr);
  ~Trainer();

  // Trains until done, cancelled (*cancel set: stops within one step and
  // writes a checkpoint), out of budget, or failed (an exception, e.g. a
  // lost peer rank, is an Unavailable status).
  absl::StatusOr<TrainingResult> Run(const std::atomic<bool>* cancel = nullptr);

  AcousticModel& model() { return model_; }
  // The moving average of model()'s weights (train.ema_decay); null when off.
  AcousticModel* averaged_model() { return averaged_ ? &averaged_ : nullptr; }
  const TrainingState& state() const { return state_; }
  const TrainingConfig& config() const { return config_; }

 private:
  // Step events report the optimizer steps since the last one.
  struct StepWindow {
    double loss_sum = 0;
    int64_t losses = 0, frames = 0;
    int64_t first_step = 0;
    double allreduce_seconds = 0;  // in CombineAcrossRanks' allreduce
    std::chrono::steady_clock::time_point start;
  };

  Trainer() = default;
  // Create()'s parts: the newest valid checkpoint (its rejections and the
  // choice reported as events), the train and dev data, the models and
  // optimizer, and the state they start from.
  std::optional<CheckpointData> NewestCheckpoint();
  absl::Status LoadData();
  absl::Status BuildModels(const Cmvn& cmvn);
  absl::Status StartFrom(const CheckpointData* ckpt);
  // Run() without turning exceptions into a status.
  absl::StatusOr<TrainingResult> RunSession(const std::atomic<bool>* cancel);
  // Run()'s parts. The rest of the current epoch; a stop reason if a stop
  // condition ended it early.
  absl::StatusOr<std::optional<StopReason>> RunEpoch(const std::atomic<bool>* cancel,
                                                     const TrainingLoss& loss_terms);
  // Why the run stops before the next batch, if it does; *budget_spent is
  // the share of the time budget used (0 without one). Across ranks: any
  // rank's reason stops all, and rank 0's clock decides the budget.
  std::optional<StopReason> StopBefore(const std::atomic<bool>* cancel, double* budget_spent) const;
  // One optimizer step at learning rate `lr`; false if it was skipped
  // (non-finite loss or gradient, or no rows on any rank), an error after
  // too many non-finite steps in a row. `batch` holds this rank's rows.
  absl::StatusOr<bool> TrainStep(const Batch& batch, double lr, const TrainingLoss& loss_terms);
  // The step's gradient sums (this rank's groups) summed over the ranks
  // (one allreduce, with the row, loss and *frames counts), then the mean
  // over all rows set as model_'s gradients when the loss is finite.
  // Returns the batch's mean CTC loss over every rank's rows (0 without
  // rows; sum->rows is then 0).
  double CombineAcrossRanks(GradientSum* sum, int64_t* frames);
  // Create()'s check that every rank has the same config and resumes from
  // the same step; then rank 0's parameters everywhere.
  absl::Status AgreeAcrossRanks();
  int rank() const { return collective_ ? collective_->rank() : 0; }
  int world_size() const { return collective_ ? collective_->world_size() : 1; }
  bool writer() const { return rank() == 0; }
  void EmitProgress(double lr);
  TrainingResult Finish(StopReason stop);
  absl::Status Checkpoint();
  absl::Status Validate(int64_t epoch);
  void Emit(ProgressEvent e);
  double Elapsed() const;
  // averaged_ <- d * averaged_ + (1 - d) * model_ after state_.step steps.
  void UpdateAverage();
  // Validate() with all compute threads (data-parallel steps run the
  // shared pools single-threaded).
  absl::Status ValidateWithAllThreads(int64_t epoch);
  std::string ExportPath() const { return out_dir_ + "/model.asrmodel"; }
  // Step of the weights in ExportPath(): the best by dev CER, or with
  // train.export_model "last" the latest validated; -1 before any.
  int64_t ExportedStep() const;

  TrainingConfig config_;
  std::string out_dir_, ckpt_dir_;
  ProgressCallback progress_;
  std::unique_ptr<Dataset> train_, dev_;
  AcousticModel model_{nullptr};
  AcousticModel averaged_{nullptr};      // set iff train.ema_decay > 0; same device as model_
  std::vector<AcousticModel> replicas_;  // data-parallel copies of model_ for shards 1..K-1 (CPU only)
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  TrainingState state_;
  int64_t total_steps_ = 0;
  std::chrono::steady_clock::time_point session_start_;
  StepWindow window_;
  std::unique_ptr<std::ofstream> log_;
  Collective* collective_ = nullptr;  // not owned; null: a single process
  GradientSum gradient_sum_;          // TrainStep's, its buffers kept between steps
  int gradient_groups_ = 1;           // train.gradient_groups, or one per thread per process
};

// Global CMVN statistics over up to max_utterances training utterances
// (evenly spaced), without augmentation.
absl::StatusOr<Cmvn> ComputeCmvn(const Dataset& data, int64_t max_utterances);

}  // namespace asr
