// Body of the LN-LSTM row kernels (see ln_lstm_rows.h), included once per
// instruction set by ln_lstm_rows_<isa>.cc with ASR_ROWS_ISA naming the
// namespace (and the table's isa string) and ASR_ROWS_LANES the number of
// partial sums of a row reduction; it defines asr::ASR_ROWS_ISA::Table<T>(). Everything here lives in
// asr::ASR_ROWS_ISA and uses no library template, so no symbol compiled for one instruction set is shared
// with another translation unit.
#ifndef ASR_ROWS_ISA
#error "define ASR_ROWS_ISA before including ln_lstm_rows_impl.h"
#endif

#include <cstdint>

#include "model/ln_lstm_rows.h"

namespace asr {
namespace ASR_ROWS_ISA {

// Row reductions with independent partial sums: without -ffast-math the
// compiler may not reorder a float sum, so a single accumulator is a
// latency-bound scalar chain; the lanes vectorize and stay deterministic.
constexpr int kLanes = ASR_ROWS_LANES;

// tanh for float: the odd/even rational approximation Eigen uses (error a
// few ulp, saturating beyond |x| = 7.9); unlike a libm call it vectorizes.
// double uses the exact formula (the golden tests run in double).
inline float Tanh(float v) {
  const float lim = 7.90531110763549805f;
  const float x = v < -lim ? -lim : (v > lim ? lim : v);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return p / q;
}
inline double Tanh(double v) { return __builtin_tanh(v); }
// sigmoid(x) = 0.5 + 0.5 tanh(x / 2) for float; 1 / (1 + e^-x) for double.
inline float Sigmoid(float v) { return 0.5f + 0.5f * Tanh(0.5f * v); }
inline double Sigmoid(double v) { return 1.0 / (1.0 + __builtin_exp(-v)); }

template <typename T>
inline T SumRow(const T* __restrict a, int64_t n) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l];
  }
  T s = 0;
  for (; j < n; ++j) s += a[j];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

template <typename T>
inline T SumSquaredDeviation(const T* __restrict a, int64_t n, T mean) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += (a[j + l] - mean) * (a[j + l] - mean);
  }
  T s = 0;
  for (; j < n; ++j) s += (a[j] - mean) * (a[j] - mean);
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

// sum(a) and sum(a * b) in one pass.
template <typename T>
inline void SumAndDot(const T* __restrict a, const T* __restrict b, int64_t n, T* sum, T* dot) {
  T s1[kLanes] = {}, s2[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      s1[l] += a[j + l];
      s2[l] += a[j + l] * b[j + l];
    }
  }
  T r1 = 0, r2 = 0;
  for (; j < n; ++j) {
    r1 += a[j];
    r2 += a[j] * b[j];
  }
  for (int l = 0; l < kLanes; ++l) {
    r1 += s1[l];
    r2 += s2[l];
  }
  *sum = r1;
  *dot = r2;
}

// Normalizes a[0..n) into out (zero mean, unit variance; biased variance,
// eps inside the sqrt; two passes); returns 1/sqrt(var + eps). out may alias a.
template <typename T>
inline T NormalizeRow(const T* a, int64_t n, double eps, T* out) {
  const T mean = SumRow(a, n) / static_cast<T>(n);
  const T var = SumSquaredDeviation(a, n, mean) / static_cast<T>(n);
  const T rstd = static_cast<T>(1.0 / __builtin_sqrt(static_cast<double>(var) + eps));
  for (int64_t j = 0; j < n; ++j) out[j] = (a[j] - mean) * rstd;
  return rstd;
}

// LN backward for one row: given dn = dL/d(normalized) and the normalized
// values, writes dL/da = rstd * (dn - mean(dn) - xn * mean(dn * xn)).
// da may alias dn.
template <typename T>
inline void NormalizeRowBackward(const T* dn, const T* __restrict xn, T rstd, int64_t n, T* da) {
  T s1, s2;
  SumAndDot(dn, xn, n, &s1, &s2);
  s1 /= static_cast<T>(n);
  s2 /= static_cast<T>(n);
  for (int64_t j = 0; j < n; ++j) da[j] = rstd * (dn[j] - s1 - xn[j] * s2);
}

// One row of the cell update from normalized projections xn, hn (G each);
// see ForwardRowsArgs. Returns 1/std of c_next.
template <typename T>
inline T CellForwardRow(const CellParams<T>& p, const T* __restrict xn, const T* __restrict hn,
                        const T* __restrict c_prev, T* __restrict act, T* __restrict c_next, T* __restrict cn,
                        T* __restrict tc, T* __restrict m) {
  const int64_t h = p.hidden, g = 4 * h;
  const T* __restrict g_x = p.g_x;
  const T* __restrict g_h = p.g_h;
  const T* __restrict bias = p.bias;
  for (int64_t j = 0; j < g; ++j) act[j] = xn[j] * g_x[j] + hn[j] * g_h[j] + bias[j];
  for (int64_t j = 0; j < 2 * h; ++j) act[j] = Sigmoid(act[j]);   // i, f
  for (int64_t j = 2 * h; j < 3 * h; ++j) act[j] = Tanh(act[j]);  // g
  for (int64_t j = 3 * h; j < g; ++j) act[j] = Sigmoid(act[j]);   // o
  const T *ig = act, *fg = act + h, *gg = act + 2 * h, *og = act + 3 * h;
  for (int64_t k = 0; k < h; ++k) c_next[k] = fg[k] * c_prev[k] + ig[k] * gg[k];
  const T rstd = NormalizeRow(c_next, h, p.eps, cn);
  for (int64_t k = 0; k < h; ++k) tc[k] = Tanh(cn[k] * p.g_c[k] + p.b_c[k]);
  for (int64_t k = 0; k < h; ++k) m[k] = og[k] * tc[k];
  return rstd;
}

template <typename T>
void NormalizeRows(T* a, int64_t n, double eps, int64_t begin, int64_t end, T* rstd) {
  for (int64_t r = begin; r < end; ++r) rstd[r] = NormalizeRow(a + r * n, n, eps, a + r * n);
}

template <typename T>
void ForwardRows(const ForwardRowsArgs<T>& a, int64_t begin, int64_t end) {
  const int64_t h = a.p.hidden, g = 4 * h;
  for (int64_t b = begin; b < end; ++b) {
    a.rh[b] = NormalizeRow(a.ah + b * g, g, a.p.eps, a.hn + b * g);
    a.rc[b] = CellForwardRow(a.p, a.xn + b * g, a.hn + b * g, a.c_prev + b * h, a.act + b * g,
                             a.c_next + b * h, a.cn + b * h, a.tc + b * h, a.out + b * a.out_stride);
  }
}

// Backward of one row at one step (see BackwardRowsArgs); a, the row's
// activations (G); dg, dnc, dcn: scratch of G, H, H.
template <typename T>
inline void CellBackwardRow(int64_t hidden, const T* __restrict gx, const T* __restrict gh,
                            const T* __restrict gc, const T* __restrict a, const T* __restrict tc,
                            const T* __restrict cn, T rc, const T* __restrict hn, T rh,
                            const T* __restrict xn, T rx, const T* __restrict cp, const T* __restrict dm,
                            T* __restrict dc, T* __restrict dah, T* __restrict dax, T* __restrict acc_g,
                            T* __restrict acc_c, T* __restrict dg, T* __restrict dnc, T* __restrict dcn) {
  const int64_t gsize = 4 * hidden;
  for (int64_t k = 0; k < hidden; ++k) {
    const T o = a[3 * hidden + k];
    dg[3 * hidden + k] = dm[k] * tc[k] * o * (1 - o);
    dnc[k] = dm[k] * o * (1 - tc[k] * tc[k]);
  }
  for (int64_t k = 0; k < hidden; ++k) {
    acc_c[k] += dnc[k] * cn[k];
    acc_c[hidden + k] += dnc[k];
    dcn[k] = dnc[k] * gc[k];
  }
  NormalizeRowBackward(dcn, cn, rc, hidden, dcn);
  for (int64_t k = 0; k < hidden; ++k) {
    const T i = a[k], f = a[hidden + k], gg = a[2 * hidden + k];
    const T dct = dc[k] + dcn[k];
    dg[k] = dct * gg * i * (1 - i);
    dg[hidden + k] = dct * cp[k] * f * (1 - f);
    dg[2 * hidden + k] = dct * i * (1 - gg * gg);
    dc[k] = dct * f;
  }
  for (int64_t j = 0; j < gsize; ++j) {
    acc_g[j] += dg[j] * xn[j];
    acc_g[gsize + j] += dg[j] * hn[j];
    acc_g[2 * gsize + j] += dg[j];
    dah[j] = dg[j] * gh[j];
    dax[j] = dg[j] * gx[j];
  }
  NormalizeRowBackward(dah, hn, rh, gsize, dah);
  NormalizeRowBackward(dax, xn, rx, gsize, dax);
}

template <typename T>
void BackwardRows(const BackwardRowsArgs<T>& a, int64_t begin, int64_t end, T* scratch) {
  const int64_t h = a.hidden, g = 4 * h;
  for (int64_t b = begin; b < end; ++b) {
    CellBackwardRow(h, a.g_x, a.g_h, a.g_c, a.act + b * g, a.tc + b * h, a.cn + b * h, a.rc[b], a.hn + b * g,
                    a.rh[b], a.xn + b * g, a.rx[b], a.c_prev + b * h, a.dm + b * h, a.dc + b * h,
                    a.dah + b * g, a.dax + b * g, a.acc_g + b * 3 * g, a.acc_c + b * 2 * h, scratch,
                    scratch + g, scratch + g + h);
  }
}

#define ASR_ROWS_STR2(x) #x
#define ASR_ROWS_STR(x) ASR_ROWS_STR2(x)
// This instruction set's table, for ln_lstm_rows.cc's dispatcher.
template <typename T>
const RowKernels<T>& Table() {
  static constexpr RowKernels<T> kTable{ASR_ROWS_STR(ASR_ROWS_ISA), &NormalizeRows<T>, &ForwardRows<T>,
                                        &BackwardRows<T>};
  return kTable;
}
template const RowKernels<float>& Table<float>();
template const RowKernels<double>& Table<double>();
#undef ASR_ROWS_STR
#undef ASR_ROWS_STR2

}  // namespace ASR_ROWS_ISA
}  // namespace asr
