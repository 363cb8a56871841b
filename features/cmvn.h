// Global cepstral mean and variance normalization: per-dimension statistics
// accumulated over a data set (in double), saved as JSON and loaded with a
// model, applied identically to batch matrices and streamed frames:
// y = (x - mean) * inv_std, inv_std = 1 / sqrt(max(var, var_floor)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/matrix.h"
#include "model/base/fields.h"

namespace asr {

class CmvnStats {
 public:
  explicit CmvnStats(int dim = 0)
      : sum_(static_cast<size_t>(dim), 0.0), sum_sq_(static_cast<size_t>(dim), 0.0) {}
  int dim() const { return static_cast<int>(sum_.size()); }
  int64_t frames() const { return frames_; }
  // frame: dim() floats.
  void Accumulate(const float* frame);
  // Every row of m (m.cols must equal dim()).
  absl::Status Accumulate(const Matrix& m);
  // Adds another accumulator of the same dim (for parallel accumulation).
  absl::Status Merge(const CmvnStats& other);

  const std::vector<double>& sum() const { return sum_; }
  const std::vector<double>& sum_sq() const { return sum_sq_; }
  static CmvnStats FromSums(std::vector<double> sum, std::vector<double> sum_sq, int64_t frames);

 private:
  std::vector<double> sum_, sum_sq_;
  int64_t frames_ = 0;
};

// The normalizer derived from statistics. Immutable; thread-safe to share.
class Cmvn {
 public:
  Cmvn() = default;
  // Fails if stats hold no frames. var_floor guards silent dimensions.
  static absl::StatusOr<Cmvn> FromStats(const CmvnStats& stats, double var_floor = 1e-2);
  // An identity normalizer of `dim` dimensions (mean 0, inv_std 1).
  static Cmvn Identity(int dim);

  int dim() const { return static_cast<int>(mean_.size()); }
  const CmvnStats& stats() const { return stats_; }
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& inv_std() const { return inv_std_; }

  void Apply(float* frame) const;       // dim() floats, in place
  absl::Status Apply(Matrix* m) const;  // every row; m->cols must equal dim()

  // {"dim":D,"frames":N,"var_floor":F,"sum":[...],"sum_sq":[...]}
  std::string ToJson() const;
  static absl::StatusOr<Cmvn> FromJson(const std::string& json);
  absl::Status Save(const std::string& path) const;
  static absl::StatusOr<Cmvn> Load(const std::string& path);

 private:
  CmvnStats stats_;
  double var_floor_ = 1e-2;
  std::vector<float> mean_, inv_std_;
};

// Online cepstral mean normalization as Kaldi's OnlineCmvn does it
// (apply-cmvn-online, norm_vars=false, no speaker statistics), followed by
// the global variance normalization. Frame t of a stream becomes
//   (x_t - m_t) * inv_std,   m_t = (S_t + max(0, P - n_t) * mean) / max(n_t, P)
// where S_t sums the n_t = min(t + 1, W) frames ending at t (t included),
// W = window, P = prior_frames, and mean / inv_std are the global CMVN's.
// It removes each stream's own channel and speaker offset as it goes, so it
// streams; the first frames lean on the global mean.
struct OnlineCmnOptions {
  int window = 0;          // W in frames; 0 = off (global CMVN only). Kaldi's default: 600
  int prior_frames = 200;  // P in frames (Kaldi's global_frames); >= 0
  bool enabled() const { return window > 0; }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"window", "frames; 0 = off (global CMVN); Kaldi's default 600"}, s.window);
    v({"prior_frames", "frames of global mean early in a stream"}, s.prior_frames);
  }
};

// One per stream; not thread-safe. Copies what it needs from `global`.
class OnlineCmn {
 public:
  OnlineCmn(const Cmvn& global, const OnlineCmnOptions& opts);
  int64_t frames() const { return frames_; }  // frames normalized so far
  // Normalizes the stream's next frame (global.dim() floats) in place.
  void Apply(float* frame);

 private:
  OnlineCmnOptions opts_;
  std::vector<float> mean_, inv_std_;
  std::vector<double> sum_;  // S over the frames in ring_
  std::vector<float> ring_;  // the last min(frames_, W) raw frames, W slots of dim
  int64_t frames_ = 0;
};

}  // namespace asr
