#include "features/mel_banks.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace asr {

// In double: the filter edges then match the definition to ~1e-15; with
// Kaldi's float the weights carry ~1e-6 relative error, which MFCC liftering
// (x12 for C12) lifts above 1e-4.
double MelScale(double freq) { return 1127.0 * std::log(1.0 + freq / 700.0); }

float HighFreq(const MelBanksOptions& o, const FrameExtractionOptions& f) {
  return o.high_freq > 0.f ? o.high_freq : 0.5f * f.samp_freq + o.high_freq;
}

absl::Status MelBanksOptions::Validate(const FrameExtractionOptions& frame_opts) const {
  const float nyquist = 0.5f * frame_opts.samp_freq;
  const float high = HighFreq(*this, frame_opts);
  if (num_bins < 3 || num_bins > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("num_mel_bins: ", num_bins, " not in [3, 1024]"));
  }
  if (!(low_freq >= 0.f && low_freq < nyquist)) {
    return absl::InvalidArgumentError(
        absl::StrCat("low_freq: ", low_freq, " Hz not in [0, Nyquist ", nyquist, ")"));
  }
  if (!(high > low_freq && high <= nyquist)) {
    return absl::InvalidArgumentError(absl::StrCat("high_freq: ", high_freq, " gives ", high,
                                                   " Hz, not in (low_freq ", low_freq, ", Nyquist ", nyquist,
                                                   "]"));
  }
  // Every filter must cover at least one FFT bin (Kaldi asserts this).
  const MelBanks banks(*this, frame_opts);
  if (banks.num_empty_bins() > 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_mel_bins: ", num_bins, " too many for ",
                                                   frame_opts.PaddedWindowSize(), "-point FFT bins between ",
                                                   low_freq, " and ", high, " Hz: ", banks.num_empty_bins(),
                                                   " filter(s) would be empty"));
  }
  return absl::OkStatus();
}

MelBanks::MelBanks(const MelBanksOptions& opts, const FrameExtractionOptions& frame_opts) {
  const int padded = frame_opts.PaddedWindowSize();
  const int num_fft_bins = padded / 2;
  const double fft_bin_width = static_cast<double>(frame_opts.samp_freq) / padded;
  const double mel_low = MelScale(opts.low_freq);
  const double mel_high = MelScale(HighFreq(opts, frame_opts));
  const double mel_delta = (mel_high - mel_low) / (opts.num_bins + 1);
  for (int bin = 0; bin < opts.num_bins; ++bin) {
    const double left = mel_low + bin * mel_delta;
    const double center = mel_low + (bin + 1) * mel_delta;
    const double right = mel_low + (bin + 2) * mel_delta;
    Bin b{-1, {}};
    for (int i = 0; i < num_fft_bins; ++i) {
      const double mel = MelScale(fft_bin_width * i);
      if (mel > left && mel < right) {
        const double w = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center);
        if (b.first < 0) b.first = i;
        b.weights.resize(static_cast<size_t>(i - b.first), 0.f);
        b.weights.push_back(w);
      }
    }
    if (b.first < 0) {
      b.first = 0;
      ++num_empty_;
    }
    bins_.push_back(std::move(b));
  }
}

void MelBanks::Compute(const double* power, double* out) const {
  for (size_t bin = 0; bin < bins_.size(); ++bin) {
    const Bin& b = bins_[bin];
    const double* p = power + b.first;
    double e = 0.0;
    for (size_t i = 0; i < b.weights.size(); ++i) e += b.weights[i] * p[i];
    out[bin] = e;
  }
}

std::vector<double> MelBinCentersHz(const MelBanksOptions& opts, const FrameExtractionOptions& frame_opts) {
  const double low = MelScale(opts.low_freq), high = MelScale(HighFreq(opts, frame_opts));
  const double delta = (high - low) / (opts.num_bins + 1);
  std::vector<double> centers;
  for (int b = 0; b < opts.num_bins; ++b)
    centers.push_back(700.0 * (std::exp((low + (b + 1) * delta) / 1127.0) - 1.0));
  return centers;
}

}  // namespace asr
