// LibTorch adapter of the fused CUDA LN-LSTM kernels: a custom autograd
// function over one direction of one layer (same contract as
// LnLstmDirection in model/ln_lstm.h), and the streaming step. The per-step
// loops (one cuBLAS GEMM + one fused kernel each) are captured once per
// shape bucket into CUDA graphs on a side stream and replayed. fp32, bf16
// and fp16 activations; statistics, cell states and parameters in fp32.
// Built only against a CUDA LibTorch (ASR_CUDA_ADAPTER).
#pragma once

#include <torch/types.h>

#include <vector>

#include "model/ln_lstm_weights.h"

namespace asr {

// True if the fused path can run this call: CUDA tensors, no projection.
bool LnLstmCudaSupports(const torch::Tensor& x, const LstmCellWeights& w);

std::vector<torch::Tensor> LnLstmDirectionCuda(const torch::Tensor& x, const std::vector<int64_t>& lengths,
                                               const torch::Tensor& h0, const torch::Tensor& c0,
                                               const LstmCellWeights& w, double eps);

void LnLstmStepCuda(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& c,
                    const LstmCellWeights& w, double eps, torch::Tensor* h_out, torch::Tensor* c_out);

// Disables/enables CUDA graph capture (on by default; off for debugging).
void SetLnLstmCudaGraphs(bool enabled);

}  // namespace asr
