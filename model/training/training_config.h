// Everything that defines a training run, as one JSON document:
//
//   {"train_manifest": "...", "dev_manifest": "...",   // paths; relative to the config file
//    "model": {...},      // AcousticModelConfig (model/acoustic_model.h)
//    "data": {...},       // DataOptions (dataset.h)
//    "optimizer": {...},  // OptimizerOptions, below
//    "schedule": {...},   // ScheduleOptions
//    "train": {...}}      // RunOptions
//
// Each field is defined once, in its struct's Fields() (model/base/fields.h):
// JSON here, the asr.v1.TrainingConfig proto in server/config_convert.h, and
// docs/training.md's reference all follow from it. Every field is
// optional; unknown fields and bad values are errors naming the field,
// e.g. "optimizer.lr".
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "model/base/fields.h"
#include "model/training/dataset.h"
#include "nlohmann/json.hpp"

namespace asr {

struct OptimizerOptions {
  double lr = 2e-3;                           // peak learning rate (AdamW)
  std::array<double, 2> betas = {0.9, 0.98};  // AdamW's beta1, beta2
  double eps = 1e-8;
  double weight_decay = 0.01;  // decoupled (AdamW)
  double grad_clip = 5.0;      // max global gradient L2 norm; 0 = off

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"lr", "peak learning rate (AdamW), in (0, 1)"}, s.lr);
    v({"betas", "AdamW's beta1 and beta2, each in [0, 1)"}, s.betas);
    v({"eps", "AdamW's epsilon, > 0"}, s.eps);
    v({"weight_decay", "decoupled weight decay, >= 0"}, s.weight_decay);
    v({"grad_clip", "max global gradient L2 norm; 0 = off"}, s.grad_clip);
  }
};

// After warmup: a cosine decay to min_lr_ratio * lr at the last step (or
// when a time budget runs out if that comes first), 1/sqrt(step), or none.
enum class Decay { kCosine, kInverseSqrt, kNone };
absl::Span<const fields::EnumName<Decay>> EnumNames(Decay);

struct ScheduleOptions {
  int warmup_steps = 300;  // linear warmup from 0 to lr
  Decay decay = Decay::kCosine;
  double min_lr_ratio = 0.05;

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"warmup_steps", "linear warmup from 0 to lr, steps"}, s.warmup_steps);
    v({"decay", "after warmup: cosine|inverse_sqrt|none"}, s.decay);
    v({"min_lr_ratio", "where a cosine decay ends, as a share of lr"}, s.min_lr_ratio);
  }
};

enum class Device { kCpu, kCuda };
absl::Span<const fields::EnumName<Device>> EnumNames(Device);
// LSTM activations: fp32, or bf16 (CUDA only; parameters, optimizer state,
// layer-norm statistics, cell states and the CTC loss stay fp32; fp16
// would need loss scaling, bf16 has fp32's range and does not).
enum class Precision { kFp32, kBf16 };
absl::Span<const fields::EnumName<Precision>> EnumNames(Precision);
// Which validated weights OUT/model.asrmodel holds: those with the lowest
// dev CER so far, or those of the latest validation (after every epoch
// and when a budget or max_steps stops the run), i.e. the final weights
// once the run ends. Checkpoint retention keeps the best either way.
enum class ExportModel { kBestDev, kLast };
absl::Span<const fields::EnumName<ExportModel>> EnumNames(ExportModel);

struct RunOptions {
  int epochs = 20;
  int max_steps = 0;  // 0 = epochs decide
  // 0 = none; training stops (validated, checkpointed) when spent, and a
  // cosine decay follows the clock where it is ahead of the steps (see
  // LearningRate), so such a run's learning rates depend on the machine's speed.
  double time_budget_minutes = 0;
  uint32_t seed = 1;
  int threads = 0;  // LibTorch + BLAS threads; 0 = half the cores
  // On CPU with threads > 1: split every batch into `threads` shards, each
  // run forward and backward by its own model replica on one thread, and
  // sum the gradients in a fixed order (deterministic for a fixed seed and
  // thread count; the same gradient as the whole batch up to rounding).
  // false: one model, LibTorch and BLAS parallelize each operation instead.
  bool data_parallel = true;
  // Every batch's gradient is the sum of the gradients of this many row
  // groups (contiguous, near-equal), each run forward and backward on its
  // own and summed in float64: the same groups, hence bit for bit the same
  // training, whatever the threads and processes that compute them. 0 =
  // one group per thread per process (fastest; results then depend on
  // the thread count and world size up to rounding). Must be at least the
  // world size.
  int gradient_groups = 0;
  int checkpoint_every_steps = 500;
  int keep_last_checkpoints = 3;       // plus the best by dev CER
  int early_stopping_patience = 0;     // epochs without dev CER improvement; 0 = off
  int max_consecutive_nonfinite = 20;  // abort after this many skipped steps in a row
  int eval_beam = 1;                   // dev decoding beam (1 = greedy)
  int cmvn_max_utterances = 2000;      // train utterances used for CMVN statistics
  int log_every_steps = 10;            // step events
  Device device = Device::kCpu;        // cuda needs a CUDA LibTorch and a GPU
  Precision precision = Precision::kFp32;
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
  int intermediate_ctc_layer = 0;
  ExportModel export_model = ExportModel::kBestDev;

  // The layer intermediate CTC reads (intermediate_ctc_layer resolved).
  int64_t IntermediateCtcLayer(int num_layers) const {
    return intermediate_ctc_layer > 0 ? intermediate_ctc_layer : (num_layers + 1) / 2;
  }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"epochs", "passes over the training data"}, s.epochs);
    v({"max_steps", "0 = epochs decide"}, s.max_steps);
    v({"time_budget_minutes", "0 = none; the run stops, validated and checkpointed, when spent"},
      s.time_budget_minutes);
    v({"seed", "data order, augmentation, initialization"}, s.seed);
    v({"threads", "LibTorch + BLAS threads; 0 = half the cores"}, s.threads);
    v({"data_parallel", "on CPU, one model replica per thread, each on a shard of the batch"},
      s.data_parallel);
    v({"gradient_groups",
       "row groups each batch's gradient is summed from (float64); fixed: the same training for any threads "
       "and world size; 0 = one per thread per process"},
      s.gradient_groups);
    v({"checkpoint_every_steps", "0 = only at epoch ends"}, s.checkpoint_every_steps);
    v({"keep_last_checkpoints", "plus the best by dev CER"}, s.keep_last_checkpoints);
    v({"early_stopping_patience", "epochs without dev CER improvement; 0 = off"}, s.early_stopping_patience);
    v({"max_consecutive_nonfinite", "abort after this many skipped steps in a row"},
      s.max_consecutive_nonfinite);
    v({"eval_beam", "dev decoding beam width (1 = greedy)"}, s.eval_beam);
    v({"cmvn_max_utterances", "train utterances used for CMVN statistics"}, s.cmvn_max_utterances);
    v({"log_every_steps", "steps between progress events"}, s.log_every_steps);
    v({"device", "cpu|cuda"}, s.device);
    v({"precision", "fp32|bf16 (bf16: cuda only)"}, s.precision);
    v({"ema_decay", "0 = off; else validate and export a moving average of the weights"}, s.ema_decay);
    v({"confidence_penalty", "0 = off; beta of CTC - beta * frame entropy"}, s.confidence_penalty);
    v({"intermediate_ctc_weight", "0 = off; w of (1 - w) * CTC + w * CTC at an inner layer"},
      s.intermediate_ctc_weight);
    v({"intermediate_ctc_layer", "0 = (num_layers + 1) / 2; else 1 .. num_layers - 1"},
      s.intermediate_ctc_layer);
    v({"export_model", "best_dev (lowest dev CER) | last (latest validated weights)"}, s.export_model);
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

  template <class S, class V>
  static void Fields(S& s, V& v) {
    // The manifests are the job's dataset in the service (asr.v1.DatasetSpec).
    v(fields::JsonOnly("train_manifest", "NeMo JSONL or Kaldi data dir; relative to the config file"),
      s.train_manifest);
    v(fields::JsonOnly("dev_manifest", "likewise, for validation"), s.dev_manifest);
    v(fields::Runtime("audio_root", "manifest audio must lie under it; set by the server"), s.audio_root);
    v({"model", "the network and its features"}, s.model);
    v({"data", "batches, loading and augmentation"}, s.data);
    v({"optimizer", "AdamW"}, s.optimizer);
    v({"schedule", "learning-rate schedule"}, s.schedule);
    v({"train", "the run"}, s.train);
  }
};

// Learning rate at `step` (0-based) of `total_steps`. `time_fraction`, the
// share of a time budget spent (0 without one), moves a cosine decay on
// when the clock is further along than the steps: a run that its budget
// cuts short still ends at min_lr_ratio * lr instead of half way down.
double LearningRate(const OptimizerOptions& opt, const ScheduleOptions& s, int64_t step, int64_t total_steps,
                    double time_fraction = 0);

}  // namespace asr
