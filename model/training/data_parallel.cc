#include "model/training/data_parallel.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "model/ctc.h"
#include "model/training/seed_mix.h"

namespace asr {
namespace {

// CTC loss (mean over utterances) of rows [begin, end) of `batch` through
// `model`, with `terms` (TrainingLoss) added, back-propagated into its
// gradients when the CTC loss is finite; padding beyond the rows' longest
// input and target is cut off first. Returns the CTC loss of the outputs.
double ShardLossBackward(AcousticModel& model, const Batch& batch, int64_t begin, int64_t end,
                         int64_t burn_in, const TrainingLoss& terms) {
  const int64_t n = end - begin;
  const torch::Tensor lengths = batch.feat_lengths.narrow(0, begin, n);
  const torch::Tensor target_lengths = batch.target_lengths.narrow(0, begin, n);
  const torch::Tensor feats = batch.feats.narrow(0, begin, n).narrow(1, 0, lengths.max().item<int64_t>());
  const torch::Device dev = model->device();
  const torch::Tensor targets = batch.targets.narrow(0, begin, n)
                                    .narrow(1, 0, std::max<int64_t>(1, target_lengths.max().item<int64_t>()))
                                    .to(dev);
  const bool intermediate = terms.intermediate_ctc_weight > 0;
  const AcousticOutput out =
      model->forward(feats.to(dev), lengths, burn_in, intermediate ? terms.intermediate_ctc_layer : 0);
  const torch::Tensor ctc = CtcLoss(out.log_probs, targets, out.lengths, target_lengths);
  const double value = ctc.item<double>();
  if (!std::isfinite(value)) return value;
  torch::Tensor loss = ctc;
  if (intermediate) {
    const double w = terms.intermediate_ctc_weight;
    loss = (1 - w) * ctc + w * CtcLoss(out.intermediate_log_probs, targets, out.lengths, target_lengths);
  }
  if (terms.confidence_penalty > 0) {
    loss = loss - terms.confidence_penalty * FrameEntropy(out.log_probs, out.lengths, target_lengths);
  }
  loss.backward();
  return value;
}

}  // namespace

uint64_t DropoutSeed(uint64_t seed, int64_t step, int64_t shard) {
  return SplitMix64Finalize(seed * 0x9e3779b97f4a7c15ULL +
                            static_cast<uint64_t>(step) * 0xbf58476d1ce4e5b9ULL +
                            static_cast<uint64_t>(shard) * 0x94d049bb133111ebULL);
}

void CopyParameters(AcousticModel& from, std::vector<AcousticModel>& to) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> src = from->parameters();
  for (AcousticModel& r : to) {
    std::vector<torch::Tensor> dst = r->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
}

double ForwardBackward(AcousticModel& model, std::vector<AcousticModel>& replicas, const Batch& batch,
                       int64_t burn_in, uint64_t seed, int64_t step, const TrainingLoss& loss_terms) {
  const int64_t rows = batch.size();
  const size_t shards =
      static_cast<size_t>(std::min<int64_t>(1 + static_cast<int64_t>(replicas.size()), rows));
  auto model_of = [&](size_t k) -> AcousticModel& { return k == 0 ? model : replicas[k - 1]; };
  auto first_row = [&](size_t k) { return static_cast<int64_t>(k) * rows / static_cast<int64_t>(shards); };
  std::vector<double> losses(shards);
  std::vector<std::exception_ptr> errors(shards);
  auto run_shard = [&](size_t k) {
    try {
      AcousticModel& m = model_of(k);
      m->zero_grad();
      m->lstm()->SeedDropout(DropoutSeed(seed, step, static_cast<int64_t>(k)));
      losses[k] = ShardLossBackward(m, batch, first_row(k), first_row(k + 1), burn_in, loss_terms);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (size_t k = 1; k < shards; ++k) {
    workers.emplace_back([&run_shard, k] {
      at::set_num_threads(1);  // this thread's OpenMP team
      run_shard(k);
    });
  }
  run_shard(0);
  for (std::thread& w : workers) w.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  std::vector<double> weight(shards);
  double loss = 0;
  for (size_t k = 0; k < shards; ++k) {
    weight[k] = static_cast<double>(first_row(k + 1) - first_row(k)) / static_cast<double>(rows);
    loss += weight[k] * losses[k];
  }
  if (shards == 1 || !std::isfinite(loss)) return loss;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sum = model->parameters();
  for (size_t k = 0; k < shards; ++k) {
    const std::vector<torch::Tensor> part = model_of(k)->parameters();
    for (size_t i = 0; i < sum.size(); ++i) {
      if (k == 0) {
        sum[i].mutable_grad().mul_(weight[k]);
      } else {
        sum[i].mutable_grad().add_(part[i].grad(), weight[k]);
      }
    }
  }
  return loss;
}

}  // namespace asr
