// Data-parallel training step on CPU. On this project's 2-core machines one
// model replica per core, each single-threaded on its own shard of the
// batch, trains about 1.2x faster than one model whose every operation is
// split across the cores (intra-op LibTorch + BLAS threads), because the
// per-timestep LSTM work is too small to split well.
#pragma once

#include <cstdint>
#include <vector>

#include "model/acoustic_model.h"
#include "model/training/dataset.h"

namespace asr {

// What the step's gradient is the gradient of, besides the CTC loss of the
// model's outputs (mean over utterances).
struct TrainingLoss {
  // β: minus β · FrameEntropy of the outputs (model/ctc.h); 0 = off.
  double confidence_penalty = 0;
  // Intermediate CTC (Lee & Watanabe 2021): with weight w in (0, 1) the loss
  // is (1 − w) · CTC(outputs) + w · CTC(the shared output layer over LSTM
  // layer `intermediate_ctc_layer`, 1-based, < num_layers). 0 = off.
  double intermediate_ctc_weight = 0;
  int64_t intermediate_ctc_layer = 0;
};

// Forward and backward of `batch` (CTC loss, mean over utterances) into
// model's gradients, which are overwritten. With replicas (same config and
// parameters as model, see CopyParameters), the batch's rows are split into
// 1 + replicas.size() contiguous shards of near-equal size, shard 0 run by
// model on the calling thread and shard k by replicas[k - 1] on a thread of
// its own, and the gradients summed in float64 (ForwardBackwardGroups),
// each weighted by its share of the rows: the whole batch's gradient up to
// rounding, and deterministic. Each row's dropout masks come from
// DropoutSeed(seed, step, its utterance), so they do not depend on the
// split. Callers run LibTorch and BLAS single-threaded around this
// when replicas are used. The gradient is that of `loss` (TrainingLoss).
// Returns the batch's mean CTC loss of the outputs (without penalty or
// intermediate loss); when it is not finite, the gradients must not be
// used. Exceptions of any shard are rethrown on the calling thread after
// all shards finished.
double ForwardBackward(AcousticModel& model, std::vector<AcousticModel>& replicas, const Batch& batch,
                       int64_t burn_in, uint64_t seed, int64_t step, const TrainingLoss& loss = {});

// A batch's gradient and loss as float64 sums over row groups. Reuse one
// across steps: its buffers are kept.
struct GradientSum {
  // One per parameter of the model, float64: the sum over groups g of
  // rows_g · (gradient of group g's mean loss). Unset when in_model.
  std::vector<torch::Tensor> grads;
  double loss_sum = 0;  // sum of rows_g · (group g's mean CTC loss); NaN or inf if any is
  int64_t rows = 0;     // rows summed over
  // Set by the caller: a batch of one group may leave its gradient (the
  // mean over its rows, exactly what grads / rows would round to) in the
  // model's gradients instead; in_model then says it did.
  bool allow_in_model = false;
  bool in_model = false;
  std::vector<std::vector<torch::Tensor>> scratch;  // per-worker sums of workers 1.., reused
};

// Forward and backward of `batch` in row groups: group g is the next
// group_rows[g] rows (the counts sum to batch.size()), run on its own by
// model (worker 0) or replicas[k - 1] (worker k), group g on worker
// g % (1 + replicas.size()), each worker on a thread of its own. Each
// group's gradient, times its row count, is added up in float64, exactly
// enough that the sum does not depend on which worker (or, summed across
// processes, which process) computed which group: the same groups give
// the same gradient bit for bit. A group whose loss is not finite adds no
// gradient (loss_sum then is not finite either). Dropout as for
// ForwardBackward; model's gradients are left stale unless sum->in_model.
void ForwardBackwardGroups(AcousticModel& model, std::vector<AcousticModel>& replicas, const Batch& batch,
                           const std::vector<int64_t>& group_rows, int64_t burn_in, uint64_t seed,
                           int64_t step, GradientSum* sum, const TrainingLoss& loss = {});

// Sets model's gradients to sum.grads / sum.rows (in the parameters'
// dtype), unless sum.in_model (they already are) or there are no rows.
void SetMeanGradient(AcousticModel& model, const GradientSum& sum);

// Copies from's parameters into each of `to` (no autograd).
void CopyParameters(AcousticModel& from, std::vector<AcousticModel>& to);

// Dropout seed of dataset utterance `utterance` at `step`: a function of
// the run's seed, the step and the utterance only, so resumed runs, any
// thread timing and any split of the batch (threads, processes) draw the
// same masks.
uint64_t DropoutSeed(uint64_t seed, int64_t step, int64_t utterance);

}  // namespace asr
