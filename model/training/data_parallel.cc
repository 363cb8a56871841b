#include "model/training/data_parallel.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "model/base/seed_mix.h"
#include "model/ctc.h"

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

uint64_t DropoutSeed(uint64_t seed, int64_t step, int64_t utterance) {
  return SplitMix64Finalize(seed * 0x9e3779b97f4a7c15ULL +
                            static_cast<uint64_t>(step) * 0xbf58476d1ce4e5b9ULL +
                            static_cast<uint64_t>(utterance) * 0x94d049bb133111ebULL);
}

void CopyParameters(AcousticModel& from, std::vector<AcousticModel>& to) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> src = from->parameters();
  for (AcousticModel& r : to) {
    std::vector<torch::Tensor> dst = r->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
}

void SetMeanGradient(AcousticModel& model, const GradientSum& sum) {
  if (sum.in_model || sum.rows == 0) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].grad().defined()) params[i].mutable_grad() = torch::empty_like(params[i]);
    torch::div_out(params[i].mutable_grad(), sum.grads[i],
                   static_cast<double>(sum.rows));  // one pass, to float32
  }
}

void ForwardBackwardGroups(AcousticModel& model, std::vector<AcousticModel>& replicas, const Batch& batch,
                           const std::vector<int64_t>& group_rows, int64_t burn_in, uint64_t seed,
                           int64_t step, GradientSum* sum, const TrainingLoss& loss_terms) {
  const size_t groups = group_rows.size();
  std::vector<int64_t> first(groups + 1, 0);
  for (size_t g = 0; g < groups; ++g) first[g + 1] = first[g] + group_rows[g];
  TORCH_CHECK(first[groups] == batch.size(), "ForwardBackwardGroups: groups hold ", first[groups],
              " rows of ", batch.size());
  const size_t workers = std::min(1 + replicas.size(), std::max<size_t>(groups, 1));
  auto model_of = [&](size_t k) -> AcousticModel& { return k == 0 ? model : replicas[k - 1]; };
  const std::vector<torch::Tensor> params = model->parameters();
  sum->scratch.resize(workers - 1);
  for (size_t k = 0; k < workers; ++k) {
    std::vector<torch::Tensor>& acc = k == 0 ? sum->grads : sum->scratch[k - 1];
    if (acc.size() != params.size()) {
      acc.clear();
      for (const torch::Tensor& p : params) acc.push_back(torch::empty_like(p, torch::kFloat64));
    }
  }
  sum->in_model = sum->allow_in_model && groups == 1;
  std::vector<double> losses(workers, 0.0);
  std::vector<int64_t> rows_done(workers, 0);
  std::vector<char> added(workers, 0);  // whether worker k's sum holds a gradient yet
  std::vector<std::exception_ptr> errors(workers);
  auto run_worker = [&](size_t k) {
    try {
      AcousticModel& m = model_of(k);
      std::vector<torch::Tensor>& acc = k == 0 ? sum->grads : sum->scratch[k - 1];
      for (size_t g = k; g < groups; g += workers) {
        const int64_t rows = group_rows[g];
        if (rows == 0) continue;
        m->zero_grad();
        std::vector<uint64_t> row_seeds;
        for (int64_t row = first[g]; row < first[g + 1]; ++row)
          row_seeds.push_back(DropoutSeed(seed, step, batch.utterances[static_cast<size_t>(row)]));
        m->lstm()->SeedDropout(std::move(row_seeds));
        const double loss = ShardLossBackward(m, batch, first[g], first[g + 1], burn_in, loss_terms);
        losses[k] += static_cast<double>(rows) * loss;
        rows_done[k] += rows;
        if (!std::isfinite(loss) || sum->in_model) continue;
        torch::NoGradGuard no_grad;
        const std::vector<torch::Tensor> mine = m->parameters();
        for (size_t i = 0; i < mine.size(); ++i) {
          const torch::Tensor& grad = mine[i].grad();
          if (!added[k]) {
            if (grad.defined()) {
              // In float64: grad * rows in float32 would round.
              acc[i].copy_(grad).mul_(static_cast<double>(rows));
            } else {
              acc[i].zero_();
            }
          } else if (grad.defined()) {
            acc[i].add_(grad, static_cast<double>(rows));
          }
        }
        added[k] = 1;
      }
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t k = 1; k < workers; ++k) {
    threads.emplace_back([&run_worker, k] {
      at::set_num_threads(1);  // this thread's OpenMP team
      run_worker(k);
    });
  }
  run_worker(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  sum->loss_sum = 0;
  sum->rows = 0;
  for (size_t k = 0; k < workers; ++k) {
    sum->loss_sum += losses[k];
    sum->rows += rows_done[k];
  }
  if (sum->in_model) return;
  torch::NoGradGuard no_grad;
  if (!added[0]) {
    for (torch::Tensor& t : sum->grads) t.zero_();
  }
  for (size_t k = 1; k < workers; ++k) {
    if (!added[k]) continue;
    for (size_t i = 0; i < params.size(); ++i) sum->grads[i].add_(sum->scratch[k - 1][i]);
  }
}

double ForwardBackward(AcousticModel& model, std::vector<AcousticModel>& replicas, const Batch& batch,
                       int64_t burn_in, uint64_t seed, int64_t step, const TrainingLoss& loss_terms) {
  const int64_t rows = batch.size();
  const int64_t groups = std::min<int64_t>(1 + static_cast<int64_t>(replicas.size()), rows);
  GradientSum sum;
  ForwardBackwardGroups(model, replicas, batch, EvenGroups(rows, groups), burn_in, seed, step, &sum,
                        loss_terms);
  const double loss = rows > 0 ? sum.loss_sum / static_cast<double>(rows) : 0.0;
  if (std::isfinite(loss)) SetMeanGradient(model, sum);
  return loss;
}

}  // namespace asr
