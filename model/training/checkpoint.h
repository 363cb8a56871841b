// Training checkpoints: one "checkpoint" bundle (bundle.h: atomic write,
// SHA-256 verified on read) holding the format version, the full training
// config, the model config, vocabulary and CMVN, model and optimizer state,
// LibTorch's RNG state, and the training state (step, epoch, position in
// the epoch's batch order, best dev CER, skip counters, metrics history).
// Files are DIR/ckpt-<step, 10 digits>.asrckpt; resume takes the newest one
// that verifies, reporting and skipping corrupt ones.
#pragma once

#include <torch/optim/optimizer.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "model/bundle.h"
#include "model/training/training_config.h"
#include "nlohmann/json.hpp"

namespace asr {

struct TrainingState {
  int64_t step = 0;            // optimizer steps taken
  int64_t epoch = 0;           // epoch to resume in
  int64_t batch_in_epoch = 0;  // next batch (in the epoch's order) to run
  double best_dev_cer = 2.0;   // > 1 means "none yet"
  double best_dev_wer = 2.0;
  int64_t best_step = -1;
  int64_t epochs_without_improvement = 0;
  int64_t skipped_steps = 0;  // non-finite loss or gradient, total
  int64_t nonfinite_streak = 0;
  double elapsed_seconds = 0;                        // training wall time before this session
  nlohmann::json history = nlohmann::json::array();  // one object per validation

  nlohmann::json ToJson() const;
  static TrainingState FromJson(const nlohmann::json& j);
};

struct CheckpointData {
  std::string path;
  TrainingConfig config;
  TrainingState state;
  Cmvn cmvn;
  Bundle bundle;  // blobs: "model", "optimizer", "torch_rng", and "averaged" with train.ema_decay
};

// `averaged` (may be null): the moving average of the weights (train.ema_decay).
absl::Status SaveCheckpoint(const std::string& path, const TrainingConfig& config, AcousticModel& model,
                            torch::optim::Optimizer& optimizer, const TrainingState& state,
                            AcousticModel* averaged = nullptr);
absl::StatusOr<CheckpointData> ReadCheckpoint(const std::string& path);
// Loads weights, optimizer state and LibTorch's RNG state, and the averaged
// weights into *averaged when given; a checkpoint without them leaves
// *averaged unchanged.
absl::Status RestoreCheckpoint(const CheckpointData& ckpt, AcousticModel& model,
                               torch::optim::Optimizer& optimizer, AcousticModel* averaged = nullptr);

std::string CheckpointPath(const std::string& dir, int64_t step);
// Checkpoint files in dir, newest (highest step) first.
std::vector<std::string> ListCheckpoints(const std::string& dir);
// The newest checkpoint that verifies; each rejected one is described in
// *rejected. NotFound when there is none.
absl::StatusOr<CheckpointData> ReadNewestValidCheckpoint(const std::string& dir,
                                                         std::vector<std::string>* rejected);
// Deletes all but the newest keep_last checkpoints and the one at best_step.
void ApplyRetention(const std::string& dir, int64_t keep_last, int64_t best_step);

}  // namespace asr
