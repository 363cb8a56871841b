#include "features/fft.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace asr {
namespace {

bool IsPow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

ComplexFft::ComplexFft(int n) : n_(n), bitrev_(static_cast<size_t>(n)), tmp_re_(n), tmp_im_(n) {
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  for (int i = 0; i < n; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev_[static_cast<size_t>(i)] = r;
  }
  for (int half = 1; half < n; half <<= 1) {
    for (int j = 0; j < half; ++j) {
      const double angle = -M_PI * j / half;
      tw_re_.push_back(std::cos(angle));
      tw_im_.push_back(std::sin(angle));
    }
  }
}

void ComplexFft::Forward(double* re, double* im) {
  for (int i = 0; i < n_; ++i) {
    tmp_re_[static_cast<size_t>(bitrev_[static_cast<size_t>(i)])] = re[i];
    tmp_im_[static_cast<size_t>(bitrev_[static_cast<size_t>(i)])] = im[i];
  }
  ForwardBitReversed(tmp_re_.data(), tmp_im_.data());
  std::copy(tmp_re_.begin(), tmp_re_.end(), re);
  std::copy(tmp_im_.begin(), tmp_im_.end(), im);
}

void ComplexFft::ForwardBitReversed(double* re, double* im) const {
  const int n = n_;
  double* __restrict xr = re;
  double* __restrict xi = im;
  // Stage half = 1: butterflies without multiplication.
  for (int s = 0; s + 1 < n; s += 2) {
    const double ar = xr[s], ai = xi[s], br = xr[s + 1], bi = xi[s + 1];
    xr[s] = ar + br;
    xi[s] = ai + bi;
    xr[s + 1] = ar - br;
    xi[s + 1] = ai - bi;
  }
  size_t tw = 1;
  for (int half = 2; half < n; half <<= 1) {
    const double* __restrict wr = tw_re_.data() + tw;
    const double* __restrict wi = tw_im_.data() + tw;
    for (int start = 0; start < n; start += 2 * half) {
      double* __restrict ar = xr + start;
      double* __restrict ai = xi + start;
      double* __restrict br = ar + half;
      double* __restrict bi = ai + half;
      for (int j = 0; j < half; ++j) {
        const double tr = br[j] * wr[j] - bi[j] * wi[j];
        const double ti = br[j] * wi[j] + bi[j] * wr[j];
        br[j] = ar[j] - tr;
        bi[j] = ai[j] - ti;
        ar[j] += tr;
        ai[j] += ti;
      }
    }
    tw += static_cast<size_t>(half);
  }
}

RealPowerSpectrum::RealPowerSpectrum(int n) : n_(n), pow2_(IsPow2(n)) {
  if (pow2_) {
    const int m = n / 2;
    fft_ = std::make_unique<ComplexFft>(m);
    re_.resize(static_cast<size_t>(m));
    im_.resize(static_cast<size_t>(m));
    for (int k = 0; k <= m; ++k) {
      const double angle = -2 * M_PI * k / n;
      split_re_.push_back(std::cos(angle));
      split_im_.push_back(std::sin(angle));
    }
    return;
  }
  int l = 1;
  while (l < 2 * n - 1) l <<= 1;
  fft_ = std::make_unique<ComplexFft>(l);
  re_.assign(static_cast<size_t>(l), 0.f);
  im_.assign(static_cast<size_t>(l), 0.f);
  bfft_re_.assign(static_cast<size_t>(l), 0.f);
  bfft_im_.assign(static_cast<size_t>(l), 0.f);
  for (int j = 0; j < n; ++j) {
    // j^2 mod 2n keeps the angle exact for large j.
    const int64_t jj = (static_cast<int64_t>(j) * j) % (2 * static_cast<int64_t>(n));
    const double angle = -M_PI * static_cast<double>(jj) / n;
    chirp_re_.push_back(std::cos(angle));
    chirp_im_.push_back(std::sin(angle));
  }
  // b_j = conj(chirp_j) at j and l - j.
  for (int j = 0; j < n; ++j) {
    bfft_re_[static_cast<size_t>(j)] = chirp_re_[static_cast<size_t>(j)];
    bfft_im_[static_cast<size_t>(j)] = -chirp_im_[static_cast<size_t>(j)];
    if (j > 0) {
      bfft_re_[static_cast<size_t>(l - j)] = chirp_re_[static_cast<size_t>(j)];
      bfft_im_[static_cast<size_t>(l - j)] = -chirp_im_[static_cast<size_t>(j)];
    }
  }
  fft_->Forward(bfft_re_.data(), bfft_im_.data());
}

void RealPowerSpectrum::Compute(double* x, double* power) {
  if (pow2_) {
    ComputePow2(x, power);
  } else {
    ComputeBluestein(x, power);
  }
}

void RealPowerSpectrum::ComputePow2(const double* x, double* power) {
  const int m = n_ / 2;
  double* __restrict zr = re_.data();
  double* __restrict zi = im_.data();
  const int* rev = fft_->bitrev().data();
  for (int k = 0; k < m; ++k) {
    zr[rev[k]] = x[2 * k];
    zi[rev[k]] = x[2 * k + 1];
  }
  fft_->ForwardBitReversed(zr, zi);
  power[0] = (zr[0] + zi[0]) * (zr[0] + zi[0]);
  power[m] = (zr[0] - zi[0]) * (zr[0] - zi[0]);
  for (int k = 1; k < m; ++k) {
    const double ar = zr[k], ai = zi[k], br = zr[m - k], bi = -zi[m - k];  // b = conj(Z[m-k])
    const double er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);               // even part
    const double dr = ar - br, di = ai - bi;                               // odd part = d / (2i)
    const double orr = 0.5 * di, oi = -0.5 * dr;
    const double wr = split_re_[static_cast<size_t>(k)], wi = split_im_[static_cast<size_t>(k)];
    const double xr = er + wr * orr - wi * oi;
    const double xi = ei + wr * oi + wi * orr;
    power[k] = xr * xr + xi * xi;
  }
}

void RealPowerSpectrum::ComputeBluestein(const double* x, double* power) {
  const size_t l = re_.size();
  std::fill(re_.begin(), re_.end(), 0.f);
  std::fill(im_.begin(), im_.end(), 0.f);
  for (int j = 0; j < n_; ++j) {
    re_[static_cast<size_t>(j)] = x[j] * chirp_re_[static_cast<size_t>(j)];
    im_[static_cast<size_t>(j)] = x[j] * chirp_im_[static_cast<size_t>(j)];
  }
  fft_->Forward(re_.data(), im_.data());
  // Pointwise product, then inverse FFT as conj(FFT(conj(.))) / l.
  for (size_t i = 0; i < l; ++i) {
    const double r = re_[i] * bfft_re_[i] - im_[i] * bfft_im_[i];
    const double im = re_[i] * bfft_im_[i] + im_[i] * bfft_re_[i];
    re_[i] = r;
    im_[i] = -im;
  }
  fft_->Forward(re_.data(), im_.data());
  const double scale = 1.0 / (l);
  for (int k = 0; k <= n_ / 2; ++k) {
    const double cr = re_[static_cast<size_t>(k)] * scale, ci = -im_[static_cast<size_t>(k)] * scale;
    const double xr = cr * chirp_re_[static_cast<size_t>(k)] - ci * chirp_im_[static_cast<size_t>(k)];
    const double xi = cr * chirp_im_[static_cast<size_t>(k)] + ci * chirp_re_[static_cast<size_t>(k)];
    power[k] = xr * xr + xi * xi;
  }
}

}  // namespace asr
