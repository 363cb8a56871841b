// The per-row work of the fused CPU LN-LSTM (ln_lstm_cpu.cc): layer norms,
// gates, cell update and their backward, one batch row at a time, between
// the GEMMs. Compiled several times with different instruction sets
// (ln_lstm_rows_{generic,avx2,avx512}.cc, one namespace each so that no
// inline function compiled for AVX-512 can stand in for the generic one);
// RowKernelsFor<T>() picks the widest the CPU runs, once per process.
//
// Layout: G = 4H gate pre-activations per row, in order i, f, g, o; every
// pointer below points at row 0 of a [B, G] or [B, H] buffer (row stride G
// or H) unless it says otherwise. Row b is touched only by the call that
// covers b, so disjoint row ranges may run on different threads.
#pragma once

#include <cstdint>

namespace asr {

// Parameters of the cell shared by every row.
template <typename T>
struct CellParams {
  const T *g_x, *g_h, *bias, *g_c, *b_c;  // gains and biases: G, G, G, H, H
  int64_t hidden;                         // H
  double eps;                             // layer-norm epsilon (inside the sqrt)
};

// One time step of the forward pass for rows [begin, end): hn = LN(ah),
// gates = xn g_x + hn g_h + bias -> act (sigmoid i, f, o; tanh g),
// c_next = f c_prev + i g, cn = LN(c_next), tc = tanh(cn g_c + b_c),
// out = o tc. rh, rc: 1/std of W_h h and of c_next, one per row.
// hn may alias ah (streaming step).
template <typename T>
struct ForwardRowsArgs {
  CellParams<T> p;
  const T* xn;      // [B, G] normalized W_x x
  const T* ah;      // [B, G] W_h h
  T* hn;            // [B, G]
  T* rh;            // [B]
  const T* c_prev;  // [B, H]
  T* act;           // [B, G]
  T* c_next;        // [B, H]
  T* cn;            // [B, H]
  T* rc;            // [B]
  T* tc;            // [B, H]
  T* out;           // [B, out_stride], first H of each row written
  int64_t out_stride;
};

// One time step of backpropagation through the cell for rows [begin, end),
// from the forward's saved buffers at that step. Reads dm (dL/d(o tc)) and
// dc (dL/dc_t from step t+1); writes dc (now dL/dc_{t-1}), dah = dL/d(W_h h)
// and dax = dL/d(W_x x), and adds to the per-row parameter-gradient
// accumulators acc_g [B, 3G] (d g_x | d g_h | d bias) and acc_c [B, 2H]
// (d g_c | d b_c).
template <typename T>
struct BackwardRowsArgs {
  int64_t hidden;
  const T *g_x, *g_h, *g_c;
  const T *act, *tc, *cn, *rc, *hn, *rh, *xn, *rx, *c_prev, *dm;
  T *dc, *dah, *dax, *acc_g, *acc_c;
};

template <typename T>
struct RowKernels {
  const char* isa;  // "generic", "avx2", "avx512"
  // Rows [begin, end) of a [rows, n] buffer normalized in place (zero mean,
  // unit biased variance); rstd[r] = 1/sqrt(var + eps).
  void (*normalize_rows)(T* a, int64_t n, double eps, int64_t begin, int64_t end, T* rstd);
  void (*forward_rows)(const ForwardRowsArgs<T>& a, int64_t begin, int64_t end);
  // scratch: G + 2H values owned by the caller's thread.
  void (*backward_rows)(const BackwardRowsArgs<T>& a, int64_t begin, int64_t end, T* scratch);
};

// The widest variant this CPU supports (AVX-512 F/BW/DQ/VL, then AVX2 +
// FMA, then the x86-64 baseline); ASR_ROW_KERNELS=generic|avx2|avx512 in
// the environment forces one (an unsupported choice falls back to generic).
// Thread-safe; chosen once.
template <typename T>
const RowKernels<T>& RowKernelsFor();

// The variants compiled in, for tests and benchmarks that compare them.
// Entries the CPU cannot run are omitted.
template <typename T>
int AvailableRowKernels(const RowKernels<T>** out, int capacity);

}  // namespace asr
