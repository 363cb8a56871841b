// Triangular mel filterbank over FFT bins, exactly as Kaldi's MelBanks
// (mel(f) = 1127 ln(1 + f/700), filters equally spaced in mel between
// low_freq and high_freq, the Nyquist bin never weighted). No VTLN.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "features/frame_extraction.h"

namespace asr {

struct MelBanksOptions {
  int num_bins = 80;      // number of triangular filters
  float low_freq = 20.f;  // Hz, lower edge of the first filter
  float high_freq = 0.f;  // Hz, upper edge of the last; <= 0 means Nyquist + high_freq

  absl::Status Validate(const FrameExtractionOptions& frame_opts) const;
  std::string ToString() const { return fields::ToString(*this); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"num_mel_bins", "triangular mel filters"}, s.num_bins);
    v({"low_freq", "Hz, lower edge of the first filter"}, s.low_freq);
    v({"high_freq", "Hz, upper edge of the last; <= 0 is an offset from Nyquist"}, s.high_freq);
  }
};

class MelBanks {
 public:
  // Options must have passed Validate(frame_opts).
  MelBanks(const MelBanksOptions& opts, const FrameExtractionOptions& frame_opts);
  int num_bins() const { return static_cast<int>(bins_.size()); }
  // Filters that cover no FFT bin (their output is always 0).
  int num_empty_bins() const { return num_empty_; }
  // power: PaddedWindowSize()/2 + 1 values; out: num_bins() values.
  void Compute(const double* power, double* out) const;

 private:
  struct Bin {
    int first;                    // first FFT bin with nonzero weight
    std::vector<double> weights;  // consecutive weights from `first`
  };
  std::vector<Bin> bins_;
  int num_empty_ = 0;
};

// Kaldi's mel scale: 1127 ln(1 + hz / 700).
double MelScale(double hz);

// The filters' upper edge in Hz: high_freq when > 0, else Nyquist + high_freq.
float HighFreq(const MelBanksOptions& o, const FrameExtractionOptions& f);

// Centre frequency (Hz) of each of opts.num_bins filters: equally spaced on
// the mel scale between low_freq and the resolved high_freq.
std::vector<double> MelBinCentersHz(const MelBanksOptions& opts, const FrameExtractionOptions& frame_opts);

}  // namespace asr
