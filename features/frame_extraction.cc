#include "features/frame_extraction.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace asr {

absl::Span<const fields::EnumName<WindowType>> EnumNames(WindowType) {
  static constexpr fields::EnumName<WindowType> kNames[] = {
      {WindowType::kPovey, "povey"},       {WindowType::kHamming, "hamming"},
      {WindowType::kHanning, "hanning"},   {WindowType::kRectangular, "rectangular"},
      {WindowType::kBlackman, "blackman"}, {WindowType::kSine, "sine"}};
  return kNames;
}

int FrameExtractionOptions::WindowShift() const {
  return static_cast<int>(samp_freq * 0.001f * frame_shift_ms);
}

int FrameExtractionOptions::WindowSize() const {
  return static_cast<int>(samp_freq * 0.001f * frame_length_ms);
}

int FrameExtractionOptions::PaddedWindowSize() const {
  const int size = WindowSize();
  if (!round_to_power_of_two) return size;
  int p = 1;
  while (p < size) p <<= 1;
  return p;
}

absl::Status FrameExtractionOptions::Validate() const {
  if (!(samp_freq >= 1000.f && samp_freq <= 768000.f)) {
    return absl::InvalidArgumentError(absl::StrCat("samp_freq: ", samp_freq, " Hz not in [1000, 768000]"));
  }
  if (!(frame_shift_ms > 0.f) || WindowShift() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("frame_shift_ms: ", frame_shift_ms, " gives no samples"));
  }
  if (!(frame_length_ms > 0.f) || WindowSize() < 2 || WindowSize() > (1 << 16)) {
    return absl::InvalidArgumentError(absl::StrCat("frame_length_ms: ", frame_length_ms, " gives ",
                                                   WindowSize(), " samples; need 2..65536"));
  }
  if (!(dither >= 0.f && std::isfinite(dither))) {
    return absl::InvalidArgumentError(absl::StrCat("dither: ", dither, " must be >= 0"));
  }
  if (!(preemph_coeff >= 0.f && preemph_coeff <= 1.f)) {
    return absl::InvalidArgumentError(absl::StrCat("preemph_coeff: ", preemph_coeff, " not in [0, 1]"));
  }
  if (!std::isfinite(blackman_coeff)) return absl::InvalidArgumentError("blackman_coeff: not finite");
  return absl::OkStatus();
}

int64_t FirstSampleOfFrame(int64_t frame, const FrameExtractionOptions& opts) {
  const int64_t shift = opts.WindowShift(), size = opts.WindowSize();
  if (opts.snip_edges) return frame * shift;
  return frame * shift + shift / 2 - size / 2;
}

int64_t NumFrames(int64_t num_samples, const FrameExtractionOptions& opts, bool flush) {
  const int64_t shift = opts.WindowShift(), size = opts.WindowSize();
  if (opts.snip_edges) return num_samples < size ? 0 : 1 + (num_samples - size) / shift;
  int64_t n = (num_samples + shift / 2) / shift;
  if (flush) return n;
  int64_t end_of_last = FirstSampleOfFrame(n - 1, opts) + size;
  while (n > 0 && end_of_last > num_samples) {
    --n;
    end_of_last -= shift;
  }
  return n;
}

std::vector<double> MakeWindow(const FrameExtractionOptions& opts) {
  const int n = opts.WindowSize();
  std::vector<double> w(static_cast<size_t>(n));
  const double a = 2 * M_PI / (n - 1);
  for (int i = 0; i < n; ++i) {
    double v = 1.0;
    switch (opts.window_type) {
      case WindowType::kHanning:
        v = 0.5 - 0.5 * std::cos(a * i);
        break;
      case WindowType::kSine:
        v = std::sin(0.5 * a * i);
        break;
      case WindowType::kHamming:
        v = 0.54 - 0.46 * std::cos(a * i);
        break;
      case WindowType::kPovey:
        v = std::pow(0.5 - 0.5 * std::cos(a * i), 0.85);
        break;
      case WindowType::kRectangular:
        v = 1.0;
        break;
      case WindowType::kBlackman:
        v = opts.blackman_coeff - 0.5 * std::cos(a * i) + (0.5 - opts.blackman_coeff) * std::cos(2 * a * i);
        break;
    }
    w[static_cast<size_t>(i)] = v;
  }
  return w;
}

double LogEnergy(const double* x, int n) {
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += x[i] * x[i];
  return std::log(std::max(e, static_cast<double>(std::numeric_limits<float>::epsilon())));
}

void ProcessWindow(const FrameExtractionOptions& opts, const std::vector<double>& window, double* frame,
                   double* log_energy_pre_window, std::mt19937_64* rng) {
  const int n = opts.WindowSize();
  if (opts.dither != 0.f) {
    std::normal_distribution<double> gauss(0.0, 1.0);
    for (int i = 0; i < n; ++i) frame[i] += opts.dither * gauss(*rng);
  }
  if (opts.remove_dc_offset) {
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += frame[i];
    const double mean = sum / n;
    for (int i = 0; i < n; ++i) frame[i] -= mean;
  }
  if (log_energy_pre_window != nullptr) *log_energy_pre_window = LogEnergy(frame, n);
  if (opts.preemph_coeff != 0.f) {
    const double c = opts.preemph_coeff;
    for (int i = n - 1; i > 0; --i) frame[i] -= c * frame[i - 1];
    frame[0] -= c * frame[0];
  }
  for (int i = 0; i < n; ++i) frame[i] *= window[static_cast<size_t>(i)];
}

}  // namespace asr
