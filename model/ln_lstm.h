// LayerNormLstm: a stack of LSTM layers whose cells are layer-normalized as
// in Ba, Kiros & Hinton 2016 ("Layer Normalization", supplementary eqs.
// 20-22), the variant haste calls LayerNormLSTM:
//
//   gates = LN(W_x x_t; g_x) + LN(W_h h_{t-1}; g_h) + b   (LN over all 4H jointly, no shift)
//   c_t   = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
//   m_t   = sigmoid(o) * tanh(LN(c_t; g_c, b_c))         (the carried c_t is not normalized)
//   h_t   = m_t, or W_r m_t with a projection (LSTMP, proj_size > 0)
//
// Gate order inside every 4H vector: i, f, g, o (PyTorch's). LN uses the
// biased variance and eps (default 1e-5). Init: gains 1, shifts 0, bias 0
// except the forget gate (1), W_x Xavier-uniform, W_h orthogonal per gate,
// W_r Xavier-uniform.
//
// Shapes are time-major: input [T, B, I], output [T, B, D * P] where
// D = 2 if bidirectional else 1 and P = proj_size or hidden_size. States
// h [L * D, B, P], c [L * D, B, H], layer-major then direction.
// Variable lengths: steps t >= lengths[b] never change sequence b's outputs
// (zero there) or final state; the reverse direction starts at each
// sequence's own end.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/ln_lstm_weights.h"

namespace asr {

struct LayerNormLstmOptions {
  LayerNormLstmOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  TORCH_ARG(int64_t, input_size);
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, num_layers) = 1;
  TORCH_ARG(bool, bidirectional) = false;
  // Dropout on the outputs of every layer but the last, in training mode.
  TORCH_ARG(double, dropout) = 0.0;
  // LSTMP recurrent projection size; 0 = none.
  TORCH_ARG(int64_t, proj_size) = 0;
  TORCH_ARG(double, eps) = 1e-5;
  // Use the fused kernels (custom autograd functions): CPU kernels on CPU
  // tensors, CUDA kernels (model/cuda/, when built against a CUDA LibTorch)
  // on CUDA tensors; false forces the reference composition of LibTorch ops.
  TORCH_ARG(bool, fused) = true;

 public:
  int64_t output_size() const { return (bidirectional_ ? 2 : 1) * state_size(); }
  int64_t state_size() const { return proj_size_ > 0 ? proj_size_ : hidden_size_; }
  absl::Status Validate() const;
  std::string ToString() const;
};

// Recurrent state: h [L * D, B, P], c [L * D, B, H].
struct LstmState {
  torch::Tensor h, c;
};

struct LstmOutput {
  torch::Tensor output;  // [T, B, D * P]
  LstmState state;       // final states (at each sequence's own end)
};

class LayerNormLstmImpl : public torch::nn::Module {
 public:
  explicit LayerNormLstmImpl(const LayerNormLstmOptions& options);
  // (Re)initializes every parameter as documented above.
  void reset_parameters();

  // input [T, B, I]; lengths [B] int64 (any device; undefined = all T);
  // initial (optional) states as in LstmState. With layer_outputs, every
  // layer's output [T, B, D * P] (before dropout) is appended to it, first
  // layer first; the last one is the returned output.
  LstmOutput forward(const torch::Tensor& input, const torch::Tensor& lengths = {},
                     const LstmState& initial = {}, std::vector<torch::Tensor>* layer_outputs = nullptr);

  // One step for B independent streams (unidirectional only): x [B, I],
  // state as in LstmState (undefined = zeros). Returns y [B, P] and the new
  // state. Runs without autograd. Equals forward() one frame at a time.
  std::pair<torch::Tensor, LstmState> Step(const torch::Tensor& x, const LstmState& state);

  // Zero state for `batch` streams on this module's device and dtype.
  LstmState ZeroState(int64_t batch) const;

  const LayerNormLstmOptions& options() const { return options_; }
  const LstmCellWeights& cell(int64_t layer, int64_t direction) const {
    return cells_[static_cast<size_t>(layer * num_directions() + direction)];
  }
  int64_t num_directions() const { return options_.bidirectional() ? 2 : 1; }

  // From now on, dropout masks of CPU tensors are drawn per batch row from
  // this module's own generator instead of LibTorch's process-wide one:
  // row b's mask after layer l comes from a generator seeded with a mix of
  // (row_seeds[b], l), drawn in time order. A row's mask therefore depends
  // neither on the other rows of its batch nor on the padded length, nor
  // on other threads drawing random numbers; callers key the seeds by
  // utterance and step (training/data_parallel.h), so that dropout is the
  // same however a batch is split across threads or processes.
  // row_seeds.size() must equal the batch size of the forward() calls that
  // follow. Not thread-safe against a concurrent forward() of this module.
  void SeedDropout(std::vector<uint64_t> row_seeds);

 private:
  // Dropout of layer `layer`'s output x ([T, B, H], rows in the caller's
  // order after `order`: row b of x is caller row order[b]).
  torch::Tensor Dropout(const torch::Tensor& x, int64_t layer, const std::vector<int64_t>& order);

  LayerNormLstmOptions options_;
  std::vector<LstmCellWeights> cells_;
  std::vector<uint64_t> dropout_row_seeds_;  // empty until SeedDropout
  at::Generator dropout_generator_;          // undefined until SeedDropout
};
TORCH_MODULE(LayerNormLstm);

// One direction of one layer over a time-major, length-sorted (descending)
// batch. x [T, B, I]; lengths: B values, non-increasing; h0 [B, P], c0 [B, H].
// Returns {y [T, B, P], h_T [B, P], c_T [B, H]}. Differentiable.
// Chooses the fused CPU or CUDA function or the reference op composition.
std::vector<torch::Tensor> LnLstmDirection(const torch::Tensor& x, const std::vector<int64_t>& lengths,
                                           const torch::Tensor& h0, const torch::Tensor& c0,
                                           const LstmCellWeights& w, double eps, bool fused);

// The reference composition of LibTorch ops (any device, autograd through
// every op); same contract as LnLstmDirection.
std::vector<torch::Tensor> LnLstmDirectionReference(const torch::Tensor& x,
                                                    const std::vector<int64_t>& lengths,
                                                    const torch::Tensor& h0, const torch::Tensor& c0,
                                                    const LstmCellWeights& w, double eps);

}  // namespace asr
