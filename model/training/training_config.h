// Everything that defines a training run, as one JSON document:
//
//   {"train_manifest": "...", "dev_manifest": "...",   // paths; relative to the config file
//    "model": {...},        // AcousticModelConfig (acoustic_model.h)
//    "data": {...},         // DataOptions (dataset.h)
//    "optimizer": {"lr": 0.002, "betas": [0.9, 0.98], "eps": 1e-8, "weight_decay": 0.01, "grad_clip": 5},
//    "schedule": {"warmup_steps": 300, "decay": "cosine", "min_lr_ratio": 0.05},
//    "train": {"epochs": 20, "max_steps": 0, "time_budget_minutes": 0, "seed": 1, "threads": 0,
//    "data_parallel": true,
//              "checkpoint_every_steps": 500, "keep_last_checkpoints": 3, "early_stopping_patience": 0,
//              "max_consecutive_nonfinite": 20, "eval_beam": 1, "cmvn_max_utterances": 2000,
//              "log_every_steps": 10, "device": "cpu", "precision": "fp32", "ema_decay": 0,
//              "export_model": "best_dev"}}
//
// Every field is optional (defaults above and in the structs); unknown
// fields and bad values are errors naming the field, e.g. "optimizer.lr".
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "model/training/dataset.h"
#include "nlohmann/json.hpp"

namespace asr {

struct OptimizerOptions {
  double lr = 2e-3;  // peak learning rate (AdamW)
  double beta1 = 0.9, beta2 = 0.98;
  double eps = 1e-8;
  double weight_decay = 0.01;  // decoupled (AdamW)
  double grad_clip = 5.0;      // max global gradient L2 norm; 0 = off
};

struct ScheduleOptions {
  int64_t warmup_steps = 300;  // linear warmup from 0 to lr
  // After warmup: "cosine" (to min_lr_ratio * lr at the last step, or when a
  // time budget runs out if that comes first), "inverse_sqrt", "none".
  std::string decay = "cosine";
  double min_lr_ratio = 0.05;
};

struct RunOptions {
  int64_t epochs = 20;
  int64_t max_steps = 0;  // 0 = epochs decide
  // 0 = none; training stops (validated, checkpointed) when spent, and a
  // cosine decay follows the clock where it is ahead of the steps (see
  // LearningRate), so such a run's learning rates depend on the machine's speed.
  double time_budget_minutes = 0;
  uint64_t seed = 1;
  int threads = 0;  // LibTorch + BLAS threads; 0 = half the cores
  // On CPU with threads > 1: split every batch into `threads` shards, each
  // run forward and backward by its own model replica on one thread, and
  // sum the gradients in a fixed order (deterministic for a fixed seed and
  // thread count; the same gradient as the whole batch up to rounding).
  // false: one model, LibTorch and BLAS parallelize each operation instead.
  bool data_parallel = true;
  int64_t checkpoint_every_steps = 500;
  int64_t keep_last_checkpoints = 3;       // plus the best by dev CER
  int64_t early_stopping_patience = 0;     // epochs without dev CER improvement; 0 = off
  int64_t max_consecutive_nonfinite = 20;  // abort after this many skipped steps in a row
  int eval_beam = 1;                       // dev decoding beam (1 = greedy)
  int64_t cmvn_max_utterances = 2000;      // train utterances used for CMVN statistics
  int64_t log_every_steps = 10;            // step events
  std::string device = "cpu";              // "cpu" or "cuda" (needs a CUDA LibTorch and a GPU)
  // LSTM activations: "fp32", or "bf16" (CUDA only; parameters,
  // optimizer state, layer-norm statistics, cell states and the CTC loss
  // stay fp32).
  std::string precision = "fp32";
  // Weight averaging (Polyak & Juditsky 1992, as an exponential moving
  // average): 0 = off; in (0, 1), after the n-th optimizer step the
  // averaged weights move toward the trained ones with decay
  // min(ema_decay, (1 + n) / (10 + n)), and the averaged model is the one
  // validated, kept as best and exported. 0.999 averages over roughly the
  // last thousand steps.
  double ema_decay = 0;
  // Confidence penalty β (Pereyra et al. 2017; maximum-entropy CTC, Liu et
  // al. 2018): the gradient is that of CTC − β · FrameEntropy (model/ctc.h),
  // which keeps the output distribution from sharpening on the training
  // voices; logged losses stay the CTC loss. 0 = off; [0, 1].
  double confidence_penalty = 0;
  // Intermediate CTC (Lee & Watanabe 2021): weight w in [0, 1); the loss is
  // (1 − w) · CTC of the outputs + w · CTC of the shared output layer over
  // LSTM layer intermediate_ctc_layer (1-based, < model.num_layers; 0 =
  // the middle one, (num_layers + 1) / 2). Logged losses stay the outputs' CTC. 0 = off.
  double intermediate_ctc_weight = 0;
  int64_t intermediate_ctc_layer = 0;
  // Which validated weights OUT/model.asrmodel holds: "best_dev", those
  // with the lowest dev CER so far; "last", those of the latest validation
  // (after every epoch and when a budget or max_steps stops the run), i.e.
  // the final weights once the run ends. Checkpoint retention keeps the
  // best-by-dev checkpoint either way.
  std::string export_model = "best_dev";
  // The layer intermediate CTC reads (intermediate_ctc_layer resolved).
  int64_t IntermediateCtcLayer(int num_layers) const {
    return intermediate_ctc_layer > 0 ? intermediate_ctc_layer : (num_layers + 1) / 2;
  }
};

struct TrainingConfig {
  std::string train_manifest, dev_manifest;
  // Audio referenced by the manifests must lie under this directory (set
  // by the server to its data root; not part of the JSON). Empty = anywhere.
  std::string audio_root;
  AcousticModelConfig model;
  DataOptions data = DataOptions::Default();
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  RunOptions train;

  absl::Status Validate() const;
  nlohmann::json ToJson() const;
  // Relative manifest paths resolve against base_dir (when not empty).
  static absl::StatusOr<TrainingConfig> FromJson(const nlohmann::json& j, const std::string& base_dir = "");
  static absl::StatusOr<TrainingConfig> Load(const std::string& path);
};

// Learning rate at `step` (0-based) of `total_steps`. `time_fraction`, the
// share of a time budget spent (0 without one), moves a cosine decay on
// when the clock is further along than the steps: a run that its budget
// cuts short still ends at min_lr_ratio * lr instead of half way down.
double LearningRate(const OptimizerOptions& opt, const ScheduleOptions& s, int64_t step, int64_t total_steps,
                    double time_fraction = 0);

}  // namespace asr
