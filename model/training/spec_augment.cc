#include "model/training/spec_augment.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// Uniform integer in [lo, hi] (inclusive), independent of the standard
// library's distribution implementation so results are portable.
int64_t UniformInt(std::mt19937_64* rng, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>((*rng)() % span);
}

double Uniform01(std::mt19937_64* rng) { return static_cast<double>((*rng)() >> 11) * 0x1.0p-53; }

// Linear-interpolation resize of rows [src_begin, src_end) into dst_rows rows.
void ResizeRows(const Matrix& src, int64_t src_begin, int64_t src_end, int64_t dst_rows, float* dst) {
  const int64_t n = src_end - src_begin, d = src.cols;
  for (int64_t r = 0; r < dst_rows; ++r) {
    const double pos = dst_rows > 1 ? static_cast<double>(r) * (n - 1) / (dst_rows - 1) : 0.0;
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(pos), n - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, n - 1);
    const float w = static_cast<float>(pos - i0);
    const float* a = src.row(src_begin + i0);
    const float* b = src.row(src_begin + i1);
    for (int64_t c = 0; c < d; ++c) dst[r * d + c] = a[c] + w * (b[c] - a[c]);
  }
}

void TimeWarp(int w, std::mt19937_64* rng, Matrix* feats) {
  const int64_t t = feats->rows;
  if (w <= 0 || t <= 2 * w + 1) return;
  const int64_t center = UniformInt(rng, w, t - w - 1);
  const int64_t warped = UniformInt(rng, center - w, center + w - 1) + 1;
  if (warped == center) return;
  std::vector<float> out(feats->data.size());
  ResizeRows(*feats, 0, center, warped, out.data());
  ResizeRows(*feats, center, t, t - warped, out.data() + warped * feats->cols);
  feats->data.swap(out);
}

}  // namespace

absl::StatusOr<SpecAugmentOptions> SpecAugmentOptions::Preset(const std::string& name) {
  SpecAugmentOptions o;
  if (name == "LB") {
    o = {80, 27, 1, 100, 1, 1.0f};
  } else if (name == "LD") {
    o = {80, 27, 2, 100, 2, 1.0f};
  } else if (name == "SM") {
    o = {40, 15, 2, 70, 2, 0.2f};
  } else if (name == "SS") {
    o = {40, 27, 2, 70, 2, 0.2f};
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("spec_augment: unknown policy '", name, "' (LB, LD, SM, SS)"));
  }
  return o;
}

absl::Status SpecAugmentOptions::Validate() const {
  if (time_warp < 0) return absl::InvalidArgumentError("time_warp: must be >= 0");
  if (freq_mask_width < 0) return absl::InvalidArgumentError("freq_mask_width: must be >= 0");
  if (num_freq_masks < 0) return absl::InvalidArgumentError("num_freq_masks: must be >= 0");
  if (time_mask_width < 0) return absl::InvalidArgumentError("time_mask_width: must be >= 0");
  if (num_time_masks < 0) return absl::InvalidArgumentError("num_time_masks: must be >= 0");
  if (!(max_time_fraction >= 0.f && max_time_fraction <= 1.f)) {
    return absl::InvalidArgumentError("max_time_fraction: not in [0, 1]");
  }
  if (!(apply_probability >= 0.f && apply_probability <= 1.f)) {
    return absl::InvalidArgumentError("apply_probability: not in [0, 1]");
  }
  if (!std::isfinite(mask_value)) return absl::InvalidArgumentError("mask_value: not finite");
  return absl::OkStatus();
}

void SpecAugment(const SpecAugmentOptions& opts, std::mt19937_64* rng, Matrix* feats,
                 const std::vector<float>* fill) {
  if (feats->rows == 0 || feats->cols == 0) return;
  if (Uniform01(rng) >= opts.apply_probability) return;
  TimeWarp(opts.time_warp, rng, feats);
  const int64_t t = feats->rows, d = feats->cols;
  for (int m = 0; m < opts.num_freq_masks; ++m) {
    const int64_t width = UniformInt(rng, 0, std::min<int64_t>(opts.freq_mask_width, d));
    const int64_t f0 = UniformInt(rng, 0, d - width);
    for (int64_t r = 0; r < t; ++r) {
      for (int64_t c = f0; c < f0 + width; ++c)
        feats->at(r, c) = fill ? (*fill)[static_cast<size_t>(c)] : opts.mask_value;
    }
  }
  const int64_t max_width =
      std::min<int64_t>(opts.time_mask_width, static_cast<int64_t>(opts.max_time_fraction * t));
  for (int m = 0; m < opts.num_time_masks; ++m) {
    const int64_t width = UniformInt(rng, 0, max_width);
    const int64_t t0 = UniformInt(rng, 0, t - width);
    for (int64_t r = t0; r < t0 + width; ++r) {
      for (int64_t c = 0; c < d; ++c)
        feats->at(r, c) = fill ? (*fill)[static_cast<size_t>(c)] : opts.mask_value;
    }
  }
}

}  // namespace asr
