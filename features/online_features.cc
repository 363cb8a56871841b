#include "features/online_features.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// Copies frame `frame`'s window into buf (WindowSize() values). `wave`
// holds stream samples [wave_offset, num_samples); indices outside
// [0, num_samples) reflect as in Kaldi's ExtractWindow. Shared by the
// streaming and the batch path so both see identical samples.
void ExtractWindow(int64_t frame, const FrameExtractionOptions& fo, const float* wave, int64_t wave_offset,
                   int64_t num_samples, double* buf) {
  const int64_t size = fo.WindowSize();
  const int64_t start = FirstSampleOfFrame(frame, fo);
  if (start >= wave_offset && start + size <= num_samples) {
    const float* src = wave + (start - wave_offset);
    for (int64_t s = 0; s < size; ++s) buf[s] = src[s];
    return;
  }
  for (int64_t s = 0; s < size; ++s) {
    int64_t i = start + s;
    while (i < 0 || i >= num_samples) i = i < 0 ? -i - 1 : 2 * num_samples - 1 - i;
    buf[s] = wave[i - wave_offset];
  }
}

}  // namespace

absl::Status FeatureOptions::Validate() const {
  return type == FeatureType::kFbank ? fbank.Validate() : mfcc.Validate();
}

absl::Span<const fields::EnumName<FeatureType>> EnumNames(FeatureType) {
  static constexpr fields::EnumName<FeatureType> kNames[] = {{FeatureType::kFbank, "fbank"},
                                                             {FeatureType::kMfcc, "mfcc"}};
  return kNames;
}

std::unique_ptr<FrameComputer> MakeFrameComputer(const FeatureOptions& opts) {
  if (opts.type == FeatureType::kFbank) return std::make_unique<FbankComputer>(opts.fbank);
  return std::make_unique<MfccComputer>(opts.mfcc);
}

absl::StatusOr<std::unique_ptr<OnlineFeatureExtractor>> OnlineFeatureExtractor::Create(
    const FeatureOptions& opts) {
  if (absl::Status st = opts.Validate(); !st.ok()) return st;
  return std::make_unique<OnlineFeatureExtractor>(MakeFrameComputer(opts));
}

OnlineFeatureExtractor::OnlineFeatureExtractor(std::unique_ptr<FrameComputer> computer)
    : computer_(std::move(computer)),
      fo_(computer_->frame_options()),
      dim_(computer_->Dim()),
      frame_buf_(static_cast<size_t>(fo_.PaddedWindowSize())) {}

void OnlineFeatureExtractor::AcceptWaveform(const float* samples, size_t n) {
  if (input_finished_ || n == 0) return;
  wave_.insert(wave_.end(), samples, samples + n);
  num_samples_ += static_cast<int64_t>(n);
  ComputeNewFrames();
}

void OnlineFeatureExtractor::InputFinished() {
  if (input_finished_) return;
  input_finished_ = true;
  ComputeNewFrames();
}

void OnlineFeatureExtractor::ComputeNewFrames() {
  const int64_t target = NumFrames(num_samples_, fo_, input_finished_);
  if (target > num_frames_) {
    feats_.resize(feats_.size() + static_cast<size_t>((target - num_frames_) * dim_));
  }
  for (int64_t f = num_frames_; f < target; ++f) {
    ExtractWindow(f, fo_, wave_.data(), wave_offset_, num_samples_, frame_buf_.data());
    float* out = feats_.data() + feats_head_ + static_cast<size_t>((f - first_stored_frame_) * dim_);
    computer_->Compute(frame_buf_.data(), out);
  }
  num_frames_ = std::max(num_frames_, target);
  // Keep samples from the next frame's first sample on.
  const int64_t discard =
      std::min<int64_t>(FirstSampleOfFrame(num_frames_, fo_), num_samples_) - wave_offset_;
  if (discard > 0) {
    wave_.erase(wave_.begin(), wave_.begin() + discard);
    wave_offset_ += discard;
  }
}

const float* OnlineFeatureExtractor::Frame(int64_t frame) const {
  return feats_.data() + feats_head_ + static_cast<size_t>((frame - first_stored_frame_) * dim_);
}

void OnlineFeatureExtractor::DiscardFramesBefore(int64_t frame) {
  frame = std::min(frame, num_frames_);
  if (frame <= first_stored_frame_) return;
  feats_head_ += static_cast<size_t>((frame - first_stored_frame_) * dim_);
  first_stored_frame_ = frame;
  // Compact when the dead prefix dominates: amortized O(1) per frame.
  if (feats_head_ > 4096 && feats_head_ * 2 > feats_.size()) {
    feats_.erase(feats_.begin(), feats_.begin() + static_cast<std::ptrdiff_t>(feats_head_));
    feats_head_ = 0;
  }
}

absl::StatusOr<Matrix> ComputeFeatures(const FeatureOptions& opts, const float* samples, size_t n) {
  if (absl::Status st = opts.Validate(); !st.ok()) return st;
  std::unique_ptr<FrameComputer> computer = MakeFrameComputer(opts);
  const FrameExtractionOptions& fo = opts.frame_opts();
  const int64_t num_samples = static_cast<int64_t>(n);
  Matrix m(NumFrames(num_samples, fo, /*flush=*/true), computer->Dim());
  std::vector<double> buf(static_cast<size_t>(fo.PaddedWindowSize()));
  for (int64_t f = 0; f < m.rows; ++f) {
    ExtractWindow(f, fo, samples, 0, num_samples, buf.data());
    computer->Compute(buf.data(), m.row(f));
  }
  return m;
}

}  // namespace asr
