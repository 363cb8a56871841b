// Framing of a waveform exactly as Kaldi's feature-window.{h,cc}: frame
// counts, frame positions (snip_edges both ways, with Kaldi's reflection at
// the edges), window functions, and per-frame processing (dither, DC
// removal, raw energy, pre-emphasis, windowing).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/base/fields.h"

namespace asr {

enum class WindowType { kPovey, kHamming, kHanning, kRectangular, kBlackman, kSine };
absl::Span<const fields::EnumName<WindowType>> EnumNames(WindowType);

// Parses "povey", "hamming", "hanning", "rectangular", "blackman", "sine".
inline bool ParseWindowType(const std::string& name, WindowType* type) {
  return fields::ParseEnum(name, type);
}
inline const char* WindowTypeName(WindowType type) { return fields::NameOf(type); }

struct FrameExtractionOptions {
  float samp_freq = 16000.f;     // Hz; the rate the waveform is at
  float frame_shift_ms = 10.f;   // ms between frame starts
  float frame_length_ms = 25.f;  // ms per frame
  float dither = 0.f;            // Gaussian dither stddev (int16 units); 0 = off (inference default)
  float preemph_coeff = 0.97f;   // pre-emphasis x[i] -= c * x[i-1]; 0 = off
  bool remove_dc_offset = true;  // subtract each frame's mean
  WindowType window_type = WindowType::kPovey;
  bool round_to_power_of_two = true;  // zero-pad frames to a power of two for the FFT
  float blackman_coeff = 0.42f;       // only for the blackman window
  bool snip_edges = false;            // true: frames fit inside the signal; false: centered, reflected edges
  uint32_t dither_seed = 0;           // seed of the dither noise (reproducible); used iff dither != 0

  int WindowShift() const;       // samples
  int WindowSize() const;        // samples
  int PaddedWindowSize() const;  // samples (FFT size)
  absl::Status Validate() const;
  std::string ToString() const { return fields::ToString(*this); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"sample_rate", "Hz; the rate the waveform is at (audio is resampled to it)"}, s.samp_freq);
    v({"frame_shift_ms", "ms between frame starts"}, s.frame_shift_ms);
    v({"frame_length_ms", "ms per frame"}, s.frame_length_ms);
    v({"dither", "Gaussian dither stddev, int16 units; 0 = off"}, s.dither);
    v({"preemph_coeff", "pre-emphasis coefficient; 0 = off"}, s.preemph_coeff);
    v({"remove_dc_offset", "subtract each frame's mean"}, s.remove_dc_offset);
    v({"window_type", "povey|hamming|hanning|rectangular|blackman|sine"}, s.window_type);
    v({"round_to_power_of_two", "zero-pad frames to a power of two for the FFT"}, s.round_to_power_of_two);
    v({"blackman_coeff", "blackman window only"}, s.blackman_coeff);
    v({"snip_edges", "true: frames fit inside the signal; false: centered, reflected edges"}, s.snip_edges);
    v({"dither_seed", "seed of the dither noise"}, s.dither_seed);
  }
};

// Number of frames in a signal of num_samples samples. With flush = false
// (more samples may come) and snip_edges = false, only frames whose window
// ends within the samples seen so far are counted (Kaldi's NumFrames).
int64_t NumFrames(int64_t num_samples, const FrameExtractionOptions& opts, bool flush = true);

// Index of the first sample of frame `frame` (may be negative when
// snip_edges = false: the window is reflected at the signal's start).
int64_t FirstSampleOfFrame(int64_t frame, const FrameExtractionOptions& opts);

// The window function, frame_length samples.
std::vector<double> MakeWindow(const FrameExtractionOptions& opts);

// Per-frame processing, in place, on `frame` (WindowSize() samples): dither,
// DC removal, optional log energy before pre-emphasis and windowing (stored
// in *log_energy_pre_window when non-null), pre-emphasis, window.
// `rng` is used only if opts.dither != 0. Not thread-safe w.r.t. `rng`.
// Computed in double (see fft.h for why).
void ProcessWindow(const FrameExtractionOptions& opts, const std::vector<double>& window, double* frame,
                   double* log_energy_pre_window, std::mt19937_64* rng);

// log(max(sum x^2, FLT_EPSILON)) over n samples.
double LogEnergy(const double* x, int n);

}  // namespace asr
