// Elementwise tanh and sigmoid over contiguous arrays for the fused LSTM
// kernels. double uses the C library. float uses the odd/even rational
// approximation of tanh that Eigen uses (error a few ulp, saturating beyond
// |x| = 7.9); unlike a libm call it vectorizes, and libm calls dominate a
// scalar gate loop. sigmoid(x) = 0.5 + 0.5 tanh(x / 2).
#pragma once

#include <cmath>
#include <cstdint>

namespace asr {

inline float FastTanh(float v) {
  const float x = v < -7.90531110763549805f ? -7.90531110763549805f
                                            : (v > 7.90531110763549805f ? 7.90531110763549805f : v);
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

inline void TanhInPlace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = FastTanh(x[i]);
}
inline void SigmoidInPlace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f + 0.5f * FastTanh(0.5f * x[i]);
}
inline void TanhInPlace(double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}
inline void SigmoidInPlace(double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0 / (1.0 + std::exp(-x[i]));
}

}  // namespace asr
