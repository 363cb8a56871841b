#include "model/training/memory_estimate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// LibTorch's and OpenBLAS's own allocations, the loader's queues and the
// dataset index: asr-train's peak RSS minus everything below, measured on
// the default model (docs/training.md).
constexpr int64_t kRuntimeBytes = 256 * kMiB;
// fp32 values one LN-LSTM direction keeps per output frame and unit of
// hidden_size for backward (gate pre-activations and their layer-norm
// statistics and normalized values, activated gates, c, LN(c), tanh, h),
// with backward's working copies of the same size.
constexpr int64_t kActivationFloatsPerUnit = 32;
// Per input feature value: the loader's copy, the augmented copy, CMVN and
// frame stacking.
constexpr int64_t kInputCopies = 4;
// Per output frame and vocabulary entry: logits, log-softmax, their
// gradients (the intermediate CTC head shares the output layer).
constexpr int64_t kOutputCopies = 4;

std::string MiB(int64_t bytes) { return absl::StrCat(RoundUpMiB(bytes), " MiB"); }

}  // namespace

int64_t RoundUpMiB(int64_t bytes) { return (bytes + kMiB - 1) / kMiB; }

absl::StatusOr<int64_t> ParameterCount(const AcousticModelConfig& m) {
  if (absl::Status st = m.Validate(); !st.ok()) return st;
  auto vocab = m.MakeVocabulary();
  if (!vocab.ok()) return vocab.status();
  const int64_t h = m.hidden_size, g = 4 * h, p = m.proj_size > 0 ? m.proj_size : h;
  const int64_t dirs = m.bidirectional ? 2 : 1, out = p * dirs;
  int64_t n = 0;
  for (int64_t l = 0; l < m.num_layers; ++l) {
    const int64_t in = l == 0 ? m.input_dim() : out;
    // w_x, w_h, g_x, g_h, bias, g_c, b_c, w_r (LSTMP)
    n += dirs * (g * in + g * p + 3 * g + 2 * h + (m.proj_size > 0 ? p * h : 0));
  }
  const int64_t v = static_cast<int64_t>(vocab->size());
  return n + out * v + v;  // the output layer
}

absl::StatusOr<MemoryEstimate> EstimateTrainingMemory(const TrainingConfig& c, int processes, int threads) {
  auto count = ParameterCount(c.model);
  if (!count.ok()) return count.status();
  auto vocab = c.model.MakeVocabulary();
  if (!vocab.ok()) return vocab.status();
  MemoryEstimate e;
  e.parameter_count = *count;
  const int64_t weights = 4 * *count;
  e.parameters = weights;
  // Gradients (fp32), AdamW's two moments, the float64 gradient sum
  // (gradient groups), the moving average.
  e.optimizer = weights + 2 * weights + 2 * weights + (c.train.ema_decay > 0 ? weights : 0);
  e.replicas = static_cast<int64_t>(std::max(0, threads - 1)) * 2 * weights;
  // This rank's share of the largest batch.
  const int64_t frames =
      (static_cast<int64_t>(c.data.max_batch_frames) + processes - 1) / std::max(1, processes);
  const int64_t steps = (frames + c.model.frame_stacking - 1) / c.model.frame_stacking;
  const int64_t dirs = c.model.bidirectional ? 2 : 1;
  e.activations = 4 * (steps * dirs * c.model.num_layers * c.model.hidden_size * kActivationFloatsPerUnit +
                       frames * c.model.features.Dim() * kInputCopies +
                       steps * static_cast<int64_t>(vocab->size()) * kOutputCopies);
  e.runtime = kRuntimeBytes;
  return e;
}

std::string MemoryEstimate::ToString() const {
  return absl::StrCat(
      MiB(per_process()), " per process: parameters ", MiB(parameters), " (", parameter_count,
      ", from model.hidden_size, model.num_layers, model.proj_size), gradients and optimizer ",
      MiB(optimizer), ", thread replicas ", MiB(replicas), " (threads per process), activations ",
      MiB(activations), " (data.max_batch_frames, model.hidden_size, model.num_layers), runtime ",
      MiB(runtime));
}

}  // namespace asr
