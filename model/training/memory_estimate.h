// What a training run will hold in memory, estimated from its config
// before anything is allocated: the job manager refuses a job that cannot
// fit (RESOURCE_EXHAUSTED naming the fields that make it big) instead of
// letting its workers run out of memory. An estimate, not a bound: within
// about 1.5x of a measured peak RSS on CPU (docs/training.md); the feature
// cache (data.cache_max_megabytes) comes on top, capped by its own field.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/training/training_config.h"

namespace asr {

struct MemoryEstimate {
  int64_t parameter_count = 0;
  // Bytes, per worker process.
  int64_t parameters = 0;   // fp32 weights
  int64_t optimizer = 0;    // gradients, AdamW moments, float64 gradient sums, the EMA copy
  int64_t replicas = 0;     // data-parallel thread replicas (weights and gradients each)
  int64_t activations = 0;  // what forward keeps for backward, for this rank's share of a batch
  int64_t runtime = 0;      // LibTorch, BLAS buffers, loader queues: a measured constant
  int64_t per_process() const { return parameters + optimizer + replicas + activations + runtime; }
  // "1234 MiB per process: parameters 34 MiB (model.hidden_size 192, ...), ..."
  std::string ToString() const;
};

// For one of `processes` ranks running `threads` compute threads each.
// INVALID_ARGUMENT if the config's model is invalid.
absl::StatusOr<MemoryEstimate> EstimateTrainingMemory(const TrainingConfig& config, int processes,
                                                      int threads);

// Bytes as whole MiB, rounded up (how the estimate is reported).
int64_t RoundUpMiB(int64_t bytes);

// The number of trainable parameters the config's AcousticModel has,
// computed without building it.
absl::StatusOr<int64_t> ParameterCount(const AcousticModelConfig& model);

}  // namespace asr
