// Fused CPU forward and backward of one LN-LSTM direction over a whole
// sequence (see ln_lstm.h for the cell). Forward: one GEMM for the input
// projection of all timesteps, then per step one GEMM (W_h h) and one fused
// pass per row (both layer norms, gates, cell update, LN(c), output).
// Backward: hand-written BPTT with one GEMM per step; weight and input
// gradients as time-batched GEMMs after the loop. float and double.
#pragma once

#include <torch/types.h>

#include <vector>

#include "model/ln_lstm_weights.h"

namespace asr {

// Same contract as LnLstmDirection; CPU tensors, float or double.
// Differentiable through a custom autograd function when grad mode is on.
std::vector<torch::Tensor> LnLstmDirectionCpu(const torch::Tensor& x, const std::vector<int64_t>& lengths,
                                              const torch::Tensor& h0, const torch::Tensor& c0,
                                              const LstmCellWeights& w, double eps);

// One streaming step for B independent rows (no lengths, no autograd):
// x [B, I], h [B, P], c [B, H] -> *h_out [B, P], *c_out [B, H].
void LnLstmStepCpu(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& c,
                   const LstmCellWeights& w, double eps, torch::Tensor* h_out, torch::Tensor* c_out);

}  // namespace asr
