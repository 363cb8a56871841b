// SpecAugment (Park et al. 2019, "SpecAugment: A Simple Data Augmentation
// Method for ASR"): time warping, frequency masks and time masks on a
// [frames, dims] feature matrix, seeded and reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "features/matrix.h"
#include "model/base/fields.h"

namespace asr {

struct SpecAugmentOptions {
  int time_warp = 0;               // W: max warp distance in frames; 0 = off
  int freq_mask_width = 27;        // F: each frequency mask is [0, F] bins wide
  int num_freq_masks = 2;          // mF
  int time_mask_width = 100;       // T: each time mask is [0, T] frames wide ...
  int num_time_masks = 2;          // mT
  float max_time_fraction = 1.0f;  // p: ... and at most p * frames wide
  float apply_probability = 1.0f;  // probability an utterance is augmented at all
  float mask_value = 0.f;          // value written into masks (0 = the mean after CMVN)

  // Park et al.'s named policies (for 80-bin features): "LB", "LD", "SM", "SS".
  static absl::StatusOr<SpecAugmentOptions> Preset(const std::string& name);
  absl::Status Validate() const;
  std::string ToString() const { return fields::ToString(*this); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"time_warp", "W: max warp distance, frames; 0 = off"}, s.time_warp);
    v({"freq_mask_width", "F: each frequency mask is [0, F] bins wide"}, s.freq_mask_width);
    v({"num_freq_masks", "mF"}, s.num_freq_masks);
    v({"time_mask_width", "T: each time mask is [0, T] frames wide ..."}, s.time_mask_width);
    v({"num_time_masks", "mT"}, s.num_time_masks);
    v({"max_time_fraction", "p: ... and at most p * frames wide"}, s.max_time_fraction);
    v({"apply_probability", "probability an utterance is augmented at all"}, s.apply_probability);
    v(fields::Runtime("mask_value",
                      "value written into masks without a fill (the dataset fills the CMVN mean)"),
      s.mask_value);
  }
};

// Augments `feats` in place using `rng`. Deterministic for a given rng state.
// Masked cells get opts.mask_value, or fill[column] when `fill` is given
// (e.g. the CMVN mean, so masks read as "average" after normalization).
void SpecAugment(const SpecAugmentOptions& opts, std::mt19937_64* rng, Matrix* feats,
                 const std::vector<float>* fill = nullptr);

}  // namespace asr
