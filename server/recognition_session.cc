#include "server/recognition_session.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace asr::server {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Duration Seconds(double s) {
  return TimeUtil::NanosecondsToDuration(static_cast<int64_t>(std::llround(s * 1e9)));
}

std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Share of `now`'s words that equal the previous interim's words at the same positions.
float Stability(const std::string& previous, const std::string& now) {
  const auto a = SplitWords(previous), b = SplitWords(now);
  if (b.empty()) return 0;
  size_t same = 0;
  while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
  return static_cast<float>(same) / static_cast<float>(b.size());
}

void FillAlternative(const Transcript& t, bool words, asr::v1::SpeechRecognitionAlternative* alt) {
  alt->set_transcript(t.text);
  alt->set_confidence(t.confidence);
  if (!words) return;
  for (const WordTiming& w : t.words) {
    asr::v1::WordInfo* wi = alt->add_words();
    wi->set_word(w.word);
    *wi->mutable_start_time() = Seconds(w.start_seconds);
    *wi->mutable_end_time() = Seconds(w.end_seconds);
    wi->set_confidence(w.confidence);
  }
}

}  // namespace

absl::StatusOr<CtcDecoderOptions> DecoderOptionsFor(const asr::v1::RecognitionConfig& config,
                                                    const ServingModel& model) {
  if (config.lexicon_constrained() && !model.lexicon) {
    return absl::FailedPreconditionError(absl::StrCat("config.lexicon_constrained: model ",
                                                      model.version.name(), ":", model.version.version(),
                                                      " records no lexicon"));
  }
  CtcDecoderOptions o;
  o.beam_width = config.max_alternatives() > 1 || config.lexicon_constrained()
                     ? std::max(8, config.max_alternatives())
                     : 1;
  o.frame_seconds = model.model->config().output_frame_seconds();
  if (config.lexicon_constrained()) o.lexicon = model.lexicon;
  return o;
}

absl::StatusOr<std::unique_ptr<RecognitionSession>> RecognitionSession::Create(
    const asr::v1::RecognitionConfig& config, ModelRegistry* models, StreamScheduler* scheduler,
    SessionLimits limits, Emit emit, std::function<void(absl::Status)> done, RecognitionMetrics* metrics) {
  if (config.model().empty()) return absl::InvalidArgumentError("config.model: required");
  auto model = models->Get(config.model(), config.model_version());
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config.model: ", model.status().message()));
  }
  if ((*model)->model->config().bidirectional) {
    return absl::InvalidArgumentError(absl::StrCat("config.model: '", config.model(),
                                                   "' is bidirectional and cannot stream; use Recognize"));
  }
  using E = asr::v1::AudioEncoding;
  const E enc = config.encoding();
  if (enc == asr::v1::ENCODING_UNSPECIFIED) return absl::InvalidArgumentError("config.encoding: required");
  if (enc != asr::v1::LINEAR16 && enc != asr::v1::FLOAT32 && enc != asr::v1::FLAC &&
      enc != asr::v1::OGG_OPUS) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.encoding: unsupported value ", static_cast<int>(enc)));
  }
  if (enc == asr::v1::OGG_OPUS && !LibsndfileSupportsOpus()) {
    return absl::InvalidArgumentError(
        "config.encoding: OGG_OPUS is not supported by this server's libsndfile");
  }
  const bool raw = enc == asr::v1::LINEAR16 || enc == asr::v1::FLOAT32;
  if (raw && (config.sample_rate_hertz() < 1000 || config.sample_rate_hertz() > 384000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.sample_rate_hertz: ", config.sample_rate_hertz(), " not in [1000, 384000]"));
  }
  if (config.audio_channel_count() < 0 || config.audio_channel_count() > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.audio_channel_count: ", config.audio_channel_count(), " not in [0, 32]"));
  }
  if (config.max_alternatives() < 0 || config.max_alternatives() > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.max_alternatives: ", config.max_alternatives(), " not in [0, 10]"));
  }
  if (!std::isfinite(config.endpoint().silence_seconds()) || config.endpoint().silence_seconds() > 60) {
    return absl::InvalidArgumentError("config.endpoint.silence_seconds: must be <= 60");
  }
  std::unique_ptr<RecognitionSession> s(new RecognitionSession());
  s->config_ = config;
  s->model_ = *model;
  s->scheduler_ = scheduler;
  s->limits_ = limits;
  s->emit_ = std::move(emit);
  s->done_ = std::move(done);
  s->metrics_ = metrics;
  s->model_label_ = absl::StrCat((*model)->version.name(), ":", (*model)->version.version());
  if (config.endpoint().silence_seconds() != 0) s->endpoint_seconds_ = config.endpoint().silence_seconds();
  const AcousticModelConfig& mc = (*model)->model->config();
  s->stacker_ = std::make_unique<FrameStacker>(mc.features.Dim(), mc.frame_stacking);
  auto decoding = DecoderOptionsFor(config, **model);
  if (!decoding.ok()) return decoding.status();
  s->decoder_ = std::make_unique<CtcDecoder>((*model)->model->vocabulary(), *decoding);
  if (raw) {
    auto p = StreamingFeaturePipeline::Create(config.sample_rate_hertz(), mc.features,
                                              &(*model)->model->cmvn(), mc.online_cmn);
    if (!p.ok()) return p.status();
    s->pipeline_ = std::move(*p);
    s->input_rate_ = config.sample_rate_hertz();
  }
  s->stream_id_ = scheduler->Add(s->model_, s.get());
  return s;
}

RecognitionSession::~RecognitionSession() { Cancel(); }

void RecognitionSession::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
  }
  scheduler_->Remove(stream_id_);
}

size_t RecognitionSession::PendingInputs() { return scheduler_->Pending(stream_id_); }

double RecognitionSession::processed_seconds() {
  std::lock_guard<std::mutex> lock(mu_);
  return ProcessedSecondsLocked();
}

double RecognitionSession::ProcessedSecondsLocked() const {
  // Caught up: every model input the received audio allows has been run;
  // the last few tens of ms wait for following samples (analysis window,
  // frame stacking), which no amount of compute can hurry.
  if (inputs_done_ == inputs_pushed_) return audio_seconds_;
  return std::min(audio_seconds_,
                  static_cast<double>(inputs_done_) * model_->model->config().output_frame_seconds());
}

absl::Status RecognitionSession::FeedSamples(const std::vector<float>& mono, int rate) {
  if (!pipeline_) {
    auto p = StreamingFeaturePipeline::Create(rate, model_->model->config().features, &model_->model->cmvn(),
                                              model_->model->config().online_cmn);
    if (!p.ok()) return p.status();
    pipeline_ = std::move(*p);
    input_rate_ = rate;
  }
  audio_seconds_ += static_cast<double>(mono.size()) / rate;
  if (audio_seconds_ > limits_.max_stream_seconds) {
    return absl::OutOfRangeError(
        absl::StrCat("stream longer than the server's maximum of ", limits_.max_stream_seconds, " s"));
  }
  if (absl::Status st = pipeline_->AcceptAudio(mono.data(), mono.size()); !st.ok()) return st;
  return DrainFeatures(false);
}

absl::Status RecognitionSession::DrainFeatures(bool flush) {
  std::vector<std::vector<float>> inputs;
  std::vector<float> frame(static_cast<size_t>(pipeline_ ? pipeline_->Dim() : 0)), stacked;
  for (; pipeline_ && next_frame_ < pipeline_->NumFramesReady(); ++next_frame_) {
    if (absl::Status st = pipeline_->CopyFrame(next_frame_, frame.data()); !st.ok()) return st;
    if (stacker_->Push(frame.data(), &stacked)) inputs.push_back(std::move(stacked));
  }
  if (pipeline_) pipeline_->DiscardFramesBefore(next_frame_);
  if (flush && stacker_->Flush(&stacked)) inputs.push_back(std::move(stacked));
  inputs_pushed_ += static_cast<int64_t>(inputs.size());
  if (!inputs.empty()) chunk_marks_.emplace_back(inputs_pushed_, Clock::now());
  scheduler_->Push(stream_id_, std::move(inputs));
  return absl::OkStatus();
}

absl::Status RecognitionSession::AcceptAudio(const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_ || cancelled_) return absl::OkStatus();  // e.g. after a single-utterance final
  if (input_done_) return absl::InvalidArgumentError("audio after the end of input");
  if (static_cast<int64_t>(bytes.size()) > limits_.max_chunk_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio message of ", bytes.size(), " bytes exceeds ", limits_.max_chunk_bytes));
  }
  if (bytes.empty()) return absl::OkStatus();
  const auto enc = config_.encoding();
  if (enc == asr::v1::LINEAR16 || enc == asr::v1::FLOAT32) {
    RawFormat raw;
    raw.encoding = enc == asr::v1::LINEAR16 ? RawEncoding::kS16le : RawEncoding::kF32le;
    raw.sample_rate = config_.sample_rate_hertz();
    raw.channels = std::max(1, config_.audio_channel_count());
    DecodeOptions dec;
    dec.max_seconds = limits_.max_stream_seconds;
    auto audio = DecodeRawPcm(bytes.data(), bytes.size(), raw, "audio chunk", dec);
    if (!audio.ok()) return audio.status();
    return FeedSamples(audio->samples, raw.sample_rate);
  }
  container_bytes_ += bytes;
  if (container_bytes_.size() > static_cast<size_t>(limits_.max_chunk_bytes) * 64) {
    return absl::OutOfRangeError("compressed stream larger than the server's buffer limit");
  }
  if (container_bytes_.size() - container_tried_at_ < 16384) return absl::OkStatus();
  container_tried_at_ = container_bytes_.size();
  DecodeOptions dec;
  dec.max_seconds = limits_.max_stream_seconds;
  auto audio = DecodeAudioBuffer(container_bytes_.data(), container_bytes_.size(), "audio stream", dec);
  if (!audio.ok() || audio->samples.size() <= container_decoded_)
    return absl::OkStatus();  // incomplete so far
  if (input_rate_ != 0 && audio->sample_rate != input_rate_) {
    return absl::InvalidArgumentError("audio stream changed its sample rate");
  }
  const std::vector<float> fresh(audio->samples.begin() + static_cast<std::ptrdiff_t>(container_decoded_),
                                 audio->samples.end());
  container_decoded_ = audio->samples.size();
  return FeedSamples(fresh, audio->sample_rate);
}

absl::Status RecognitionSession::InputDone() {
  std::lock_guard<std::mutex> lock(mu_);
  if (input_done_ || cancelled_) return absl::OkStatus();
  input_done_ = true;
  if (!container_bytes_.empty() && !finished_) {
    DecodeOptions dec;
    dec.max_seconds = limits_.max_stream_seconds;
    auto audio = DecodeAudioBuffer(container_bytes_.data(), container_bytes_.size(), "audio stream", dec);
    if (!audio.ok()) return audio.status();
    if (audio->samples.size() > container_decoded_) {
      const std::vector<float> fresh(audio->samples.begin() + static_cast<std::ptrdiff_t>(container_decoded_),
                                     audio->samples.end());
      container_decoded_ = audio->samples.size();
      if (absl::Status st = FeedSamples(fresh, audio->sample_rate); !st.ok()) return st;
    }
  }
  if (pipeline_ && !finished_) {
    if (absl::Status st = pipeline_->InputFinished(); !st.ok()) return st;
    if (absl::Status st = DrainFeatures(true); !st.ok()) return st;
  }
  MaybeFinishLocked();
  return absl::OkStatus();
}

void RecognitionSession::EmitResult(bool is_final) {
  asr::v1::StreamingRecognizeResponse resp;
  resp.set_request_id(config_.request_id());
  resp.set_model(model_label_);
  const double frame_s = model_->model->config().output_frame_seconds();
  resp.set_processed_audio_seconds(ProcessedSecondsLocked());
  asr::v1::StreamingRecognitionResult* r = resp.add_results();
  r->set_is_final(is_final);
  r->set_utterance_index(utterance_);
  *r->mutable_result_end_time() = Seconds(static_cast<double>(decoder_->frames()) * frame_s);
  const int n = std::max(1, config_.max_alternatives());
  for (const Transcript& t : decoder_->NBest(n)) {
    FillAlternative(t, config_.enable_word_time_offsets(), r->add_alternatives());
  }
  const std::string text = r->alternatives(0).transcript();
  if (!is_final) {
    r->set_stability(Stability(last_interim_, text));
    last_interim_ = text;
  } else {
    last_interim_.clear();
  }
  if (is_final && config_.endpoint().single_utterance()) resp.set_end_of_single_utterance(true);
  emit_(std::move(resp));
}

void RecognitionSession::MaybeFinishLocked() {
  if (finished_ || !input_done_ || inputs_done_ < inputs_pushed_) return;
  if (decoder_->has_speech() || utterance_ == 0) EmitResult(/*is_final=*/true);
  finished_ = true;
  done_(absl::OkStatus());
}

void RecognitionSession::OnLogProbs(const float* log_probs, int64_t vocab) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_ || finished_) return;
  decoder_->Accept(log_probs, 1);
  ++inputs_done_;
  const double frame_s = model_->model->config().output_frame_seconds();
  const auto now = Clock::now();
  if (!chunk_marks_.empty() && decoder_->trailing_blank_frames() == 0 &&
      std::max_element(log_probs, log_probs + vocab) != log_probs) {
    speech_arrival_ = chunk_marks_.front().second;  // the chunk holding this frame
  }
  bool chunk_done = false;
  while (!chunk_marks_.empty() && chunk_marks_.front().first <= inputs_done_) {
    chunk_done = true;
    if (metrics_)
      metrics_->ChunkLatency(std::chrono::duration<double>(now - chunk_marks_.front().second).count());
    chunk_marks_.pop_front();
  }
  if (metrics_) metrics_->AudioProcessed(frame_s);
  if (endpoint_seconds_ > 0 && decoder_->has_speech() &&
      static_cast<double>(decoder_->trailing_blank_frames()) * frame_s >= endpoint_seconds_) {
    if (metrics_) metrics_->FinalLatency(std::chrono::duration<double>(now - speech_arrival_).count());
    EmitResult(/*is_final=*/true);
    decoder_->Reset();
    ++utterance_;
    if (config_.endpoint().single_utterance()) {
      finished_ = true;
      done_(absl::OkStatus());
      return;
    }
  } else if (config_.interim_results() && chunk_done && !(input_done_ && inputs_done_ == inputs_pushed_)) {
    // A received chunk is fully decoded: report progress, however fast the
    // audio arrives (the final result follows at once when input is done).
    EmitResult(/*is_final=*/false);
  }
  MaybeFinishLocked();
}

}  // namespace asr::server
