// Fused CUDA kernels of the layer-normalized LSTM recurrence (see
// model/ln_lstm.h for the cell). Plain CUDA C++ on raw device pointers and
// a stream, with no LibTorch headers, so they build with nvcc alone; the
// LibTorch adapter (ln_lstm_cuda.cc) does the GEMMs and autograd.
//
// Layouts are row-major; a "row" is one sequence of the batch. G = 4H, gate
// order i, f, g, o. Activation tensors (xn, hn, act, cn, tc, h, y, dah, dax)
// are of the storage dtype (fp32, bf16 or fp16); statistics, cell states
// and gradient accumulators are fp32 always. Every kernel handles
// variable lengths by masking: rows with t >= lengths[row] carry their
// state through unchanged, write zero outputs, and contribute no gradient,
// so the launch shape depends only on (batch, hidden) and CUDA graphs can
// be replayed for any lengths.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace asr::cuda {

enum class DType { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

// rows x n values `x` -> y = (x - mean) / sqrt(var + eps) (biased variance,
// two-pass in fp32), rstd[row] = 1 / sqrt(var + eps). y may alias x.
cudaError_t LayerNormRows(DType dtype, const void* x, void* y, float* rstd, int64_t rows, int64_t n,
                          float eps, cudaStream_t stream);

struct CellForwardParams {
  DType dtype = DType::kFloat32;
  int64_t batch = 0, hidden = 0;
  int64_t t = 0;                     // step index, compared with lengths
  const int64_t* lengths = nullptr;  // [batch] device
  float eps = 1e-5f;
  const void* ah = nullptr;       // [batch, G] W_h h_{t-1} (GEMM output)
  const void* xn = nullptr;       // [batch, G] normalized W_x x_t (no gain)
  const float* g_x = nullptr;     // [G] parameters, fp32
  const float* g_h = nullptr;     // [G]
  const float* bias = nullptr;    // [G]
  const float* g_c = nullptr;     // [H]
  const float* b_c = nullptr;     // [H]
  const float* c_prev = nullptr;  // [batch, H]
  const void* h_prev = nullptr;   // [batch, H]
  float* c_next = nullptr;        // [batch, H]
  void* h_next = nullptr;         // [batch, H] new state (h_prev where inactive)
  void* y = nullptr;              // [batch, H] output (zero where inactive)
  // Saved for backward (may be null for inference):
  void* hn = nullptr;       // [batch, G] normalized W_h h
  float* rstd_h = nullptr;  // [batch]
  void* act = nullptr;      // [batch, G] sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  void* cn = nullptr;       // [batch, H] normalized c
  float* rstd_c = nullptr;  // [batch]
  void* tc = nullptr;       // [batch, H] tanh(LN(c))
};

// Both layer norms, gates, cell update, LN(c) and output for one step:
// one block per row.
cudaError_t CellForward(const CellForwardParams& p, cudaStream_t stream);

struct CellBackwardParams {
  DType dtype = DType::kFloat32;
  int64_t batch = 0, hidden = 0;
  int64_t t = 0;
  const int64_t* lengths = nullptr;
  const void* dh = nullptr;   // [batch, H] dL/dh_t (output grad + recurrent grad)
  float* dc = nullptr;        // [batch, H] in: dL/dc_t from later steps; out: dL/dc_{t-1}
  const void* act = nullptr;  // saved at step t
  const void* tc = nullptr;
  const void* cn = nullptr;
  const float* rstd_c = nullptr;
  const float* c_prev = nullptr;  // c_{t-1}
  const void* hn = nullptr;
  const float* rstd_h = nullptr;
  const void* xn = nullptr;       // normalized W_x x_t
  const float* rstd_x = nullptr;  // [batch] at step t
  const float* g_x = nullptr;
  const float* g_h = nullptr;
  const float* g_c = nullptr;
  void* dah = nullptr;     // [batch, G] out: dL/d(W_h h_{t-1}) (zero where inactive)
  void* dax = nullptr;     // [batch, G] out: dL/d(W_x x_t)
  float* acc_g = nullptr;  // [batch, 3G] += dL/dg_x | dL/dg_h | dL/dbias per row
  float* acc_c = nullptr;  // [batch, 2H] += dL/dg_c | dL/db_c per row
};

// One backward step: one block per row.
cudaError_t CellBackward(const CellBackwardParams& p, cudaStream_t stream);

// dst[row] = src_active[row] where t < lengths[row], else keep[row]:
// carries recurrent gradients through padded steps. n values per row.
cudaError_t SelectActiveRows(DType dtype, const void* src_active, const void* keep, void* dst, int64_t batch,
                             int64_t n, int64_t t, const int64_t* lengths, cudaStream_t stream);

}  // namespace asr::cuda
