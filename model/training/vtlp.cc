#include "model/training/vtlp.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace asr {
VtlpWarper::VtlpWarper(const FbankOptions& opts) : opts_(opts) {
  const MelBanksOptions& m = opts.mel_opts;
  low_hz_ = m.low_freq;
  high_hz_ = HighFreq(m, opts.frame_opts);
  centers_hz_ = MelBinCentersHz(m, opts.frame_opts);
}

void VtlpWarper::Apply(double alpha, Matrix* feats) const {
  const int n = static_cast<int>(centers_hz_.size());
  if (alpha == 1.0 || n < 2) return;
  const double mel_low = MelScale(low_hz_);
  const double delta = (MelScale(high_hz_) - mel_low) / (n + 1);
  const double f0 = 0.8 * high_hz_ * std::min(1.0, 1.0 / alpha);
  // Source position (fractional bin index) of each output bin.
  std::vector<int> lo(static_cast<size_t>(n));
  std::vector<float> frac(static_cast<size_t>(n));
  for (int b = 0; b < n; ++b) {
    const double c = centers_hz_[static_cast<size_t>(b)];
    const double s =
        c <= alpha * f0 ? c / alpha : f0 + (c - alpha * f0) * (high_hz_ - f0) / (high_hz_ - alpha * f0);
    const double p = std::clamp((MelScale(std::max(s, 0.0)) - mel_low) / delta - 1.0, 0.0, n - 1.0);
    lo[static_cast<size_t>(b)] = std::min(static_cast<int>(p), n - 2);
    frac[static_cast<size_t>(b)] = static_cast<float>(p - lo[static_cast<size_t>(b)]);
  }
  const int offset = opts_.use_energy && !opts_.htk_compat ? 1 : 0;
  std::vector<float> src(static_cast<size_t>(n));
  for (int64_t r = 0; r < feats->rows; ++r) {
    float* row = feats->row(r) + offset;
    std::copy(row, row + n, src.begin());
    for (int b = 0; b < n; ++b) {
      const size_t k = static_cast<size_t>(lo[static_cast<size_t>(b)]);
      const float t = frac[static_cast<size_t>(b)];
      row[b] = (1.f - t) * src[k] + t * src[k + 1];
    }
  }
}

}  // namespace asr
