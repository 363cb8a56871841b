// Streaming feature extraction (Kaldi's OnlineGenericBaseFeature): samples
// arrive in chunks of any size; frames become ready as soon as their window
// is complete. With dither 0 the frames equal whole-utterance extraction
// bit for bit, for any chunking (both paths run the same window extraction
// and frame computation). Consumed frames and samples are dropped, so memory stays bounded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/fbank.h"
#include "features/matrix.h"

namespace asr {

enum class FeatureType { kFbank, kMfcc };
absl::Span<const fields::EnumName<FeatureType>> EnumNames(FeatureType);

// Which features, with all their options. Project defaults: 80-bin log
// fbank, 25/10 ms, povey window, snip_edges false, dither 0, 16 kHz.
struct FeatureOptions {
  FeatureType type = FeatureType::kFbank;
  FbankOptions fbank;  // used iff type == kFbank
  MfccOptions mfcc;    // used iff type == kMfcc

  const FrameExtractionOptions& frame_opts() const {
    return type == FeatureType::kFbank ? fbank.frame_opts : mfcc.frame_opts;
  }
  FrameExtractionOptions& mutable_frame_opts() {
    return type == FeatureType::kFbank ? fbank.frame_opts : mfcc.frame_opts;
  }
  int Dim() const { return type == FeatureType::kFbank ? fbank.Dim() : mfcc.Dim(); }
  absl::Status Validate() const;
  std::string ToString() const { return fields::ToString(*this); }

  // Flat, Kaldi-like fields: `type`, then those of the active type's
  // options (readers set `type` first, so the rest land in the right one).
  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"type", "fbank|mfcc"}, s.type);
    if (s.type == FeatureType::kFbank) {
      FbankOptions::Fields(s.fbank, v);
    } else {
      MfccOptions::Fields(s.mfcc, v);
    }
  }
};

std::unique_ptr<FrameComputer> MakeFrameComputer(const FeatureOptions& opts);  // opts must be valid

// Not thread-safe; one instance per stream.
class OnlineFeatureExtractor {
 public:
  // Fails with INVALID_ARGUMENT naming the bad option.
  static absl::StatusOr<std::unique_ptr<OnlineFeatureExtractor>> Create(const FeatureOptions& opts);
  explicit OnlineFeatureExtractor(std::unique_ptr<FrameComputer> computer);

  // Appends samples (Kaldi int16 range, at frame_options().samp_freq) and
  // computes every frame whose window is complete. Ignored after
  // InputFinished().
  void AcceptWaveform(const float* samples, size_t n);
  // Declares the end of input: the last frames (reflected at the end when
  // snip_edges is false) become ready.
  void InputFinished();
  bool input_finished() const { return input_finished_; }

  int Dim() const { return dim_; }
  int64_t NumFramesReady() const { return num_frames_; }
  int64_t FirstAvailableFrame() const { return first_stored_frame_; }
  int64_t NumSamplesAccepted() const { return num_samples_; }
  // Frame `frame` (FirstAvailableFrame() <= frame < NumFramesReady()); Dim()
  // floats, valid until the next non-const call.
  const float* Frame(int64_t frame) const;
  // Frees frames before `frame`; Frame() may no longer be called for them.
  void DiscardFramesBefore(int64_t frame);
  // Frames still held (a bound on memory: Dim() floats each).
  int64_t NumFramesStored() const { return num_frames_ - first_stored_frame_; }

 private:
  void ComputeNewFrames();

  std::unique_ptr<FrameComputer> computer_;
  FrameExtractionOptions fo_;
  int dim_;
  bool input_finished_ = false;
  int64_t num_samples_ = 0;  // samples accepted so far
  int64_t wave_offset_ = 0;  // stream index of wave_[0]
  std::vector<float> wave_;  // samples from wave_offset_ on
  int64_t num_frames_ = 0;   // frames computed
  int64_t first_stored_frame_ = 0;
  size_t feats_head_ = 0;  // index in feats_ of first_stored_frame_'s row
  std::vector<float> feats_;
  std::vector<double> frame_buf_;  // PaddedWindowSize() scratch
};

// Whole-utterance features: `samples` (int16 range) -> [frames, Dim()].
absl::StatusOr<Matrix> ComputeFeatures(const FeatureOptions& opts, const float* samples, size_t n);

}  // namespace asr
