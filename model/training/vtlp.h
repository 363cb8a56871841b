// Vocal tract length perturbation (Jaitly & Hinton 2013) applied to log-mel
// filterbank features: the spectrum is stretched along frequency by a
// factor alpha, as if the same words came from a speaker with a vocal tract
// 1/alpha as long. Training on random alphas (typically 0.9..1.1) makes a
// model less sensitive to who is speaking.
//
// The warp (Jaitly & Hinton's piecewise-linear form, which keeps the band
// edge fixed): a component at source frequency s appears at
//   w(s) = alpha s                                     for s <= f0
//   w(s) = linear from (f0, alpha f0) to (high, high)  above,
// with f0 = 0.8 high min(1, 1/alpha). Each output mel bin takes, by linear
// interpolation between bin centres, the source log-mel value at w^-1 of
// its centre frequency (clamped to the first/last bin). alpha > 1 moves
// energy up in frequency. Only for fbank features (not MFCC).
#pragma once

#include "absl/status/status.h"
#include "features/fbank.h"
#include "features/matrix.h"

namespace asr {

class VtlpWarper {
 public:
  // `opts` must be valid fbank options (they give the bins' frequencies).
  explicit VtlpWarper(const FbankOptions& opts);
  // Warps every frame of `feats` ([frames, opts.Dim()], log-mel; an energy
  // column, if any, is left alone) in place. alpha in [0.5, 2].
  void Apply(double alpha, Matrix* feats) const;

 private:
  FbankOptions opts_;
  std::vector<double> centers_hz_;  // centre frequency of each mel bin
  double low_hz_, high_hz_;
};

}  // namespace asr
