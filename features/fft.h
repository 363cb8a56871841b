// FFTs for feature extraction: a radix-2 complex FFT (split real/imaginary
// arrays), and the power spectrum of a real frame of any length (power of
// two: half-size complex FFT + split; otherwise Bluestein's algorithm).
// Everything is in double: low-energy bins of a loud frame (e.g. the lowest
// mel bins after pre-emphasis) are below float32 resolution otherwise.
#pragma once

#include <memory>
#include <vector>

namespace asr {

// In-place forward complex DFT of size n (a power of two, >= 1) on split
// arrays re[n], im[n]. Reusable; not thread-safe (one per thread).
class ComplexFft {
 public:
  explicit ComplexFft(int n);
  int size() const { return n_; }
  void Forward(double* re, double* im);
  // Forward() without the input permutation: re/im must already be in
  // bit-reversed order (callers that load data can permute for free).
  void ForwardBitReversed(double* re, double* im) const;
  // bitrev()[i] = the bit-reversal of i.
  const std::vector<int>& bitrev() const { return bitrev_; }

 private:
  int n_;
  std::vector<int> bitrev_;
  std::vector<double> tw_re_, tw_im_;  // stage twiddles, concatenated by stage
  std::vector<double> tmp_re_, tmp_im_;
};

// |X_k|^2 for k = 0..n/2 of a real signal of length n >= 2.
// Not thread-safe (holds scratch buffers); one instance per extractor.
class RealPowerSpectrum {
 public:
  explicit RealPowerSpectrum(int n);
  int size() const { return n_; }
  // x: n samples (may be clobbered). power: n/2 + 1 outputs.
  void Compute(double* x, double* power);

 private:
  void ComputePow2(const double* x, double* power);
  void ComputeBluestein(const double* x, double* power);

  int n_;
  bool pow2_;
  std::unique_ptr<ComplexFft> fft_;
  std::vector<double> re_, im_;
  std::vector<double> split_re_, split_im_;  // e^{-2 pi i k / n}, k = 0..n/2
  // Bluestein: chirp e^{-pi i j^2 / n} and the transformed conjugate chirp.
  std::vector<double> chirp_re_, chirp_im_, bfft_re_, bfft_im_;
};

}  // namespace asr
