// The parameters of one layer and direction of a LayerNormLstm, in the form
// its backends take them: the fused CPU kernels (ln_lstm_cpu.h), the CUDA
// adapter (cuda/ln_lstm_cuda.h) and the reference composition. Backends
// include this header, not the module's (ln_lstm.h), which includes them.
#pragma once

#include <torch/types.h>

namespace asr {

// H = hidden size, I = input size, P = proj_size or H. Gate order inside
// every 4H vector: i, f, g, o. Tensors are views of the module's
// parameters (not owned copies).
struct LstmCellWeights {
  torch::Tensor w_x;   // [4H, I] input weights
  torch::Tensor w_h;   // [4H, P] recurrent weights
  torch::Tensor g_x;   // [4H] layer-norm gain of W_x x
  torch::Tensor g_h;   // [4H] layer-norm gain of W_h h
  torch::Tensor bias;  // [4H] gate bias
  torch::Tensor g_c;   // [H] layer-norm gain of the cell state
  torch::Tensor b_c;   // [H] layer-norm shift of the cell state
  torch::Tensor w_r;   // [P, H] LSTMP projection; undefined without one
};

}  // namespace asr
