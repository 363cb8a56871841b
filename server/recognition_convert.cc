#include "server/recognition_convert.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace asr::server {
namespace {

// To the millisecond: model frames are 10 ms or more apart, and finer digits
// would only be float noise ("1.319999999s").
google::protobuf::Duration Duration(double seconds) {
  return google::protobuf::util::TimeUtil::MillisecondsToDuration(
      static_cast<int64_t>(std::llround(seconds * 1e3)));
}

AudioEncoding ToEncoding(asr::v1::AudioEncoding e) {
  switch (e) {
    case asr::v1::ENCODING_UNSPECIFIED:
      return AudioEncoding::kUnspecified;
    case asr::v1::LINEAR16:
      return AudioEncoding::kLinear16;
    case asr::v1::FLOAT32:
      return AudioEncoding::kFloat32;
    case asr::v1::FLAC:
      return AudioEncoding::kFlac;
    case asr::v1::OGG_OPUS:
      return AudioEncoding::kOggOpus;
    case asr::v1::MULAW:
      return AudioEncoding::kMulaw;
    case asr::v1::ALAW:
      return AudioEncoding::kAlaw;
    default:
      return static_cast<AudioEncoding>(e);  // AudioFormat::Validate names the value
  }
}

void FillAlternative(const Transcript& t, bool words, asr::v1::SpeechRecognitionAlternative* alt) {
  alt->set_transcript(t.text);
  alt->set_confidence(t.confidence);
  if (!words) return;
  for (const WordTiming& w : t.words) {
    asr::v1::WordInfo* wi = alt->add_words();
    wi->set_word(w.word);
    *wi->mutable_start_time() = Duration(w.start_seconds);
    *wi->mutable_end_time() = Duration(w.end_seconds);
    wi->set_confidence(w.confidence);
  }
}

}  // namespace

absl::Status ConfigError(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("config.", status.message()));
}

absl::StatusOr<ResolvedConfig> ResolveConfig(const asr::v1::RecognitionConfig& config, ModelRegistry* models,
                                             bool stream) {
  // Length checks come first: no error echoes an oversized field.
  if (config.model().empty()) return absl::InvalidArgumentError("config.model: required");
  if (config.model().size() > kMaxModelNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("config.model: ", config.model().size(),
                                                   " bytes; model names have at most ", kMaxModelNameBytes));
  }
  if (config.request_id().size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("config.request_id: ", config.request_id().size(),
                                                   " bytes; at most ", kMaxRequestIdBytes));
  }
  if (config.model_version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.model_version: ", config.model_version(), " is negative (0 = the latest)"));
  }
  ResolvedConfig r;
  StreamOptions& o = r.options;
  o.audio.encoding = ToEncoding(config.encoding());
  o.audio.sample_rate_hertz = config.sample_rate_hertz();
  o.audio.audio_channel_count = config.audio_channel_count();
  o.decoding.max_alternatives = config.max_alternatives();
  o.decoding.word_time_offsets = config.enable_word_time_offsets();
  o.decoding.lexicon_constrained = config.lexicon_constrained();
  for (const asr::v1::Phrase& p : config.phrases()) o.decoding.phrases.push_back({p.text(), p.boost()});
  o.interim_results = config.interim_results();
  o.speech_events = config.speech_events();
  o.endpoint.silence_seconds = config.endpoint().silence_seconds();
  o.endpoint.single_utterance = config.endpoint().single_utterance();
  for (const absl::Status& st : {o.audio.Validate(stream), o.decoding.Validate(), o.endpoint.Validate()}) {
    if (!st.ok()) return ConfigError(st);
  }
  auto model = models->Get(config.model(), config.model_version());
  if (!model.ok()) {
    // An unknown model is the request's fault; a store that is down is not.
    const absl::StatusCode code =
        absl::IsNotFound(model.status()) ? absl::StatusCode::kInvalidArgument : model.status().code();
    return absl::Status(code, absl::StrCat("config.model: ", model.status().message()));
  }
  if (auto d = o.decoding.DecoderFor(**model); !d.ok()) return ConfigError(d.status());
  r.model = std::move(*model);
  return r;
}

asr::v1::StreamingRecognizeResponse ToResponse(const RecognitionResult& result,
                                               const asr::v1::RecognitionConfig& config,
                                               const std::string& model_label) {
  asr::v1::StreamingRecognizeResponse resp;
  resp.set_request_id(config.request_id());
  resp.set_model(model_label);
  resp.set_processed_audio_seconds(result.processed_seconds);
  resp.set_end_of_single_utterance(result.end_of_single_utterance);
  if (result.event != SpeechEvent::kNone) {
    resp.set_speech_event(result.event == SpeechEvent::kBegin ? asr::v1::SPEECH_BEGIN : asr::v1::SPEECH_END);
    *resp.mutable_speech_event_time() = Duration(result.event_seconds);
    return resp;
  }
  asr::v1::StreamingRecognitionResult* r = resp.add_results();
  r->set_is_final(result.is_final);
  r->set_utterance_index(result.utterance_index);
  *r->mutable_result_end_time() = Duration(result.end_seconds);
  if (!result.is_final) r->set_stability(result.stability);
  for (const Transcript& t : result.alternatives) {
    FillAlternative(t, config.enable_word_time_offsets(), r->add_alternatives());
  }
  return resp;
}

asr::v1::RecognizeResponse ToResponse(const OfflineResult& result, const asr::v1::RecognitionConfig& config,
                                      const std::string& model_label) {
  asr::v1::RecognizeResponse resp;
  resp.set_request_id(config.request_id());
  resp.set_model(model_label);
  resp.set_audio_seconds(result.audio_seconds);
  for (const Transcript& t : result.alternatives) {
    FillAlternative(t, config.enable_word_time_offsets(), resp.add_alternatives());
  }
  for (size_t i = 0; i < result.utterances.size(); ++i) {
    const OfflineUtterance& u = result.utterances[i];
    asr::v1::SpeechRecognitionResult* r = resp.add_results();
    r->set_utterance_index(static_cast<int32_t>(i));
    *r->mutable_start_time() = Duration(u.start_seconds);
    *r->mutable_end_time() = Duration(u.end_seconds);
    for (const Transcript& t : u.alternatives) {
      FillAlternative(t, config.enable_word_time_offsets(), r->add_alternatives());
    }
  }
  return resp;
}

}  // namespace asr::server
