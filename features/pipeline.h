// Audio -> features, the way the model consumes them: resample to the
// feature sample rate, scale [-1, 1] samples to Kaldi's int16 range, extract
// fbank/MFCC, and (optionally) apply global CMVN. The batch function and the
// streaming class share every step, so a file and the same audio streamed
// in pieces give the same features (bit for bit without resampling; with
// resampling, as far as libsoxr's chunking guarantee goes, see resample.h).
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "features/audio.h"
#include "features/cmvn.h"
#include "features/matrix.h"
#include "features/online_features.h"
#include "features/resample.h"

namespace asr {

// Kaldi's features expect int16-range samples.
constexpr float kInt16Scale = 32768.f;

// Features of a whole signal; CMVN applied iff cmvn != nullptr.
absl::StatusOr<Matrix> ExtractFeatures(const Audio& audio, const FeatureOptions& opts,
                                       const Cmvn* cmvn = nullptr);

// Not thread-safe; one per stream. `cmvn` (may be null) is not owned and
// must outlive this object. With `online_cmn` enabled (needs a `cmvn`),
// frames get online mean normalization instead of the global mean.
class StreamingFeaturePipeline {
 public:
  static absl::StatusOr<std::unique_ptr<StreamingFeaturePipeline>> Create(
      int input_rate, const FeatureOptions& opts, const Cmvn* cmvn = nullptr,
      const OnlineCmnOptions& online_cmn = {});
  // samples: mono, [-1, 1], at the input rate.
  absl::Status AcceptAudio(const float* samples, size_t n);
  absl::Status InputFinished();

  int Dim() const { return extractor_->Dim(); }
  int64_t NumFramesReady() const { return extractor_->NumFramesReady(); }
  int64_t FirstAvailableFrame() const { return extractor_->FirstAvailableFrame(); }
  // Copies frame f (normalized iff a CMVN was given) into out[Dim()]. With
  // online CMN, frames must be copied in order, each once: f must equal
  // the number copied so far (FailedPrecondition otherwise).
  absl::Status CopyFrame(int64_t f, float* out);
  void DiscardFramesBefore(int64_t f) { extractor_->DiscardFramesBefore(f); }
  // Seconds of input audio accepted so far.
  double SecondsAccepted() const { return static_cast<double>(input_samples_) / input_rate_; }
  const OnlineFeatureExtractor& extractor() const { return *extractor_; }

 private:
  StreamingFeaturePipeline() = default;
  absl::Status Feed(std::vector<float>* resampled);

  int input_rate_ = 0;
  int64_t input_samples_ = 0;
  std::unique_ptr<ResampleStream> resampler_;
  std::unique_ptr<OnlineFeatureExtractor> extractor_;
  const Cmvn* cmvn_ = nullptr;
  std::unique_ptr<OnlineCmn> online_cmn_;  // null unless enabled
  std::vector<float> buf_;
};

}  // namespace asr
