#include "features/pipeline.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace asr {

absl::StatusOr<Matrix> ExtractFeatures(const Audio& audio, const FeatureOptions& opts, const Cmvn* cmvn) {
  if (absl::Status st = opts.Validate(); !st.ok()) return st;
  if (cmvn != nullptr && cmvn->dim() != opts.Dim()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cmvn has ", cmvn->dim(), " dims but features have ", opts.Dim()));
  }
  const double rate = opts.frame_opts().samp_freq;
  std::vector<float> samples;
  if (audio.sample_rate != static_cast<int>(rate)) {
    auto r = Resample(audio.samples, audio.sample_rate, rate);
    if (!r.ok()) return r.status();
    samples = std::move(*r);
  } else {
    samples = audio.samples;
  }
  for (float& s : samples) s *= kInt16Scale;
  auto feats = ComputeFeatures(opts, samples.data(), samples.size());
  if (!feats.ok()) return feats.status();
  if (cmvn != nullptr) {
    if (absl::Status st = cmvn->Apply(&*feats); !st.ok()) return st;
  }
  return feats;
}

absl::StatusOr<std::unique_ptr<StreamingFeaturePipeline>> StreamingFeaturePipeline::Create(
    int input_rate, const FeatureOptions& opts, const Cmvn* cmvn, const OnlineCmnOptions& online_cmn) {
  if (cmvn != nullptr && cmvn->dim() != opts.Dim()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cmvn has ", cmvn->dim(), " dims but features have ", opts.Dim()));
  }
  if (online_cmn.enabled() && cmvn == nullptr) {
    return absl::InvalidArgumentError("online CMN needs the global CMVN (its prior mean and variances)");
  }
  auto extractor = OnlineFeatureExtractor::Create(opts);
  if (!extractor.ok()) return extractor.status();
  auto resampler = ResampleStream::Create(input_rate, opts.frame_opts().samp_freq);
  if (!resampler.ok()) return resampler.status();
  std::unique_ptr<StreamingFeaturePipeline> p(new StreamingFeaturePipeline());
  p->input_rate_ = input_rate;
  p->extractor_ = std::move(*extractor);
  p->resampler_ = std::move(*resampler);
  p->cmvn_ = cmvn;
  if (online_cmn.enabled()) p->online_cmn_ = std::make_unique<OnlineCmn>(*cmvn, online_cmn);
  return p;
}

absl::Status StreamingFeaturePipeline::Feed(std::vector<float>* resampled) {
  for (float& s : *resampled) s *= kInt16Scale;
  extractor_->AcceptWaveform(resampled->data(), resampled->size());
  resampled->clear();
  return absl::OkStatus();
}

absl::Status StreamingFeaturePipeline::AcceptAudio(const float* samples, size_t n) {
  input_samples_ += static_cast<int64_t>(n);
  if (absl::Status st = resampler_->Process(samples, n, &buf_); !st.ok()) return st;
  return Feed(&buf_);
}

absl::Status StreamingFeaturePipeline::InputFinished() {
  if (absl::Status st = resampler_->Flush(&buf_); !st.ok()) return st;
  if (absl::Status st = Feed(&buf_); !st.ok()) return st;
  extractor_->InputFinished();
  return absl::OkStatus();
}

absl::Status StreamingFeaturePipeline::CopyFrame(int64_t f, float* out) {
  if (online_cmn_ && f != online_cmn_->frames()) {
    return absl::FailedPreconditionError(
        absl::StrCat("online CMN: frame ", f, " requested, frame ", online_cmn_->frames(), " is next"));
  }
  std::memcpy(out, extractor_->Frame(f), static_cast<size_t>(Dim()) * sizeof(float));
  if (online_cmn_) {
    online_cmn_->Apply(out);
  } else if (cmvn_ != nullptr) {
    cmvn_->Apply(out);
  }
  return absl::OkStatus();
}

}  // namespace asr
