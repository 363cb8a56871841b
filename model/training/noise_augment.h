// Additive noise and room reverberation simulated on log-mel filterbank
// features, so that each epoch hears a fresh noise draw and a fresh room
// while the clean features stay cached. Both work on mel power P = exp(x):
//
//   reverberation (a late tail decaying exponentially, per mel bin):
//     R[t] = d R[t-1] + P[t-1],   P'[t] = P[t] + c R[t],
//     d = 10^(-6 shift / T60)     (the tail's power falls 60 dB in T60 s),
//     c = (1 - d) 10^(-DRR / 10)  (a stationary input's tail then carries
//                                  10^(-DRR/10) times its direct power);
//   additive noise:
//     P''[t] = P'[t] + g N[o + t],
//     N the filterbank of a white, pink or brown noise waveform computed
//     once with the same fbank options (so its fluctuation per bin and frame
//     is that of real noise), o a random offset into it, and g chosen so
//     that speech power / noise power = SNR, where speech power is the mean
//     total mel power of the utterance's louder half of frames and noise
//     power the bank's mean total mel power per frame. Both totals weight
//     each bin by the inverse of the pre-emphasis gain at its centre, so the
//     SNR is the waveform's (pre-emphasis boosts high-frequency noise by up
//     to 16 dB over low-frequency speech).
//
// Cross terms between speech and the (zero-mean) noise are dropped, the
// usual approximation; tests compare against features of noise mixed into,
// and of a room impulse response convolved with, the waveform.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "features/fbank.h"
#include "features/matrix.h"
#include "model/base/fields.h"
#include "nlohmann/json.hpp"

namespace asr {

struct NoiseAugmentOptions {
  double noise_probability = 0;                    // per utterance and epoch; 0 = no noise
  std::array<double, 2> snr_db = {0, 20};          // [min, max], uniform
  double reverb_probability = 0;                   // per utterance and epoch; 0 = no reverberation
  std::array<double, 2> t60_seconds = {0.2, 0.8};  // [min, max], uniform
  std::array<double, 2> drr_db = {0, 10};          // direct-to-reverberant ratio [min, max], uniform

  bool enabled() const { return noise_probability > 0 || reverb_probability > 0; }
  // Messages name the field as "data.noise_augment.<name>".
  absl::Status Validate() const;
  // Read and validated; errors name "data.noise_augment.<name>".
  static absl::StatusOr<NoiseAugmentOptions> FromJson(const nlohmann::json& j);

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"noise_probability", "per utterance and epoch; 0 = no noise"}, s.noise_probability);
    v({"snr_db", "[min, max] signal-to-noise ratio, dB"}, s.snr_db);
    v({"reverb_probability", "per utterance and epoch; 0 = no reverberation"}, s.reverb_probability);
    v({"t60_seconds", "[min, max] reverberation time"}, s.t60_seconds);
    v({"drr_db", "[min, max] direct-to-reverberant ratio, dB"}, s.drr_db);
  }
};

enum class NoiseColor { kWhite = 0, kPink = 1, kBrown = 2 };  // power density 1, 1/f, 1/f^2

// Immutable after Create; Apply may run on several threads at once.
class NoiseAugmenter {
 public:
  // `fbank` must be valid log-power fbank options without an energy column;
  // anything else is rejected naming the option. Builds the noise bank
  // (20 s of each color; ~50 ms).
  static absl::StatusOr<NoiseAugmenter> Create(const FbankOptions& fbank, const NoiseAugmentOptions& opts);
  // The feature check Create makes, without building the bank.
  static absl::Status CheckFeatures(const FbankOptions& fbank);

  // Draws reverberation and noise per the options from `rng` and applies
  // them to `feats` ([frames, num_bins] log-mel) in place.
  void Apply(std::mt19937_64* rng, Matrix* feats) const;

  // The two steps, for tests and tools. `offset` is any frame index into
  // the bank (taken modulo its length).
  void AddNoise(NoiseColor color, double snr_db, int64_t offset, Matrix* feats) const;
  void AddReverb(double t60_seconds, double drr_db, Matrix* feats) const;
  // The bank's mel power (not log), [frames, num_bins], mean total power
  // per frame 1 (weighted as above).
  const Matrix& noise_power(NoiseColor color) const { return bank_[static_cast<size_t>(color)]; }

 private:
  NoiseAugmenter(const FbankOptions& fbank, const NoiseAugmentOptions& opts) : fbank_(fbank), opts_(opts) {}

  FbankOptions fbank_;
  NoiseAugmentOptions opts_;
  std::array<Matrix, 3> bank_;
  std::vector<float> unemphasis_;  // per bin: 1 / pre-emphasis power gain at its centre
};

}  // namespace asr
