#include "model/recognizer/recognition_options.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "features/audio.h"

namespace asr {

absl::Status AudioFormat::Validate(bool stream) const {
  switch (encoding) {
    case AudioEncoding::kUnspecified:
      if (stream) return absl::InvalidArgumentError("encoding: required");
      break;
    case AudioEncoding::kLinear16:
    case AudioEncoding::kFloat32:
    case AudioEncoding::kMulaw:
    case AudioEncoding::kAlaw:
    case AudioEncoding::kFlac:
      break;
    case AudioEncoding::kOggOpus:
      // Streams decode it with libopus; whole files with libsndfile.
      if (!stream && !LibsndfileSupportsOpus()) {
        return absl::InvalidArgumentError(
            "encoding: OGG_OPUS files are not supported by this build's libsndfile");
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("encoding: unsupported value ", static_cast<int>(encoding)));
  }
  if (raw() && (sample_rate_hertz < 1000 || sample_rate_hertz > 384000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample_rate_hertz: ", sample_rate_hertz, " not in [1000, 384000]"));
  }
  if (audio_channel_count < 0 || audio_channel_count > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio_channel_count: ", audio_channel_count, " not in [0, 32]"));
  }
  return absl::OkStatus();
}

RawFormat AudioFormat::raw_format() const {
  RawFormat f;
  switch (encoding) {
    case AudioEncoding::kFloat32:
      f.encoding = RawEncoding::kF32le;
      break;
    case AudioEncoding::kMulaw:
      f.encoding = RawEncoding::kMulaw;
      break;
    case AudioEncoding::kAlaw:
      f.encoding = RawEncoding::kAlaw;
      break;
    default:
      f.encoding = RawEncoding::kS16le;
  }
  f.sample_rate = sample_rate_hertz;
  f.channels = std::max(1, audio_channel_count);
  return f;
}

absl::Status DecodingOptions::Validate() const {
  if (max_alternatives < 0 || max_alternatives > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_alternatives: ", max_alternatives, " not in [0, 10]"));
  }
  return ContextGraph::Validate(phrases);
}

absl::StatusOr<CtcDecoderOptions> DecodingOptions::DecoderFor(const RecognizerModel& model) const {
  if (lexicon_constrained && !model.lexicon) {
    return absl::FailedPreconditionError(
        absl::StrCat("lexicon_constrained: model ", model.label, " records no lexicon"));
  }
  auto graph = ContextGraph::Create(model.network->vocabulary(), phrases);
  if (!graph.ok()) return graph.status();
  CtcDecoderOptions o;
  const bool beam = max_alternatives > 1 || lexicon_constrained || *graph;
  o.beam_width = beam ? std::max(8, max_alternatives) : 1;
  o.frame_seconds = model.output_frame_seconds();
  if (lexicon_constrained) o.lexicon = model.lexicon;
  o.phrases = std::move(*graph);
  return o;
}

absl::Status EndpointOptions::Validate() const {
  if (!std::isfinite(silence_seconds) || silence_seconds > 60) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint.silence_seconds: ", silence_seconds, " is not <= 60"));
  }
  return absl::OkStatus();
}

absl::Status StreamOptions::Validate() const {
  if (absl::Status st = audio.Validate(/*stream=*/true); !st.ok()) return st;
  if (absl::Status st = decoding.Validate(); !st.ok()) return st;
  return endpoint.Validate();
}

}  // namespace asr
