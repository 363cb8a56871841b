#include "model/recognizer/recognition_stream.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

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

double Seconds(RecognitionStream::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

absl::StatusOr<std::unique_ptr<RecognitionStream>> RecognitionStream::Create(
    std::shared_ptr<const RecognizerModel> model, const StreamOptions& options, const StreamLimits& limits,
    RecognitionObserver* observer) {
  if (!model->streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model: '", model->label, "' is bidirectional and cannot stream; use Recognize"));
  }
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  auto decoding = options.decoding.DecoderFor(*model);
  if (!decoding.ok()) return decoding.status();
  std::unique_ptr<RecognitionStream> s(new RecognitionStream());
  const AcousticModelConfig& mc = model->network->config();
  s->stacker_ = std::make_unique<FrameStacker>(mc.features.Dim(), mc.frame_stacking);
  s->decoder_ = std::make_unique<CtcDecoder>(model->network->vocabulary(), *decoding);
  s->model_ = std::move(model);
  s->options_ = options;
  s->limits_ = limits;
  s->observer_ = observer;
  // Raw audio's rate is known now: build the pipeline (mel banks, window,
  // resampler) here rather than in the first audio message, whose latency
  // a burst of new streams would otherwise pay.
  if (options.audio.raw()) {
    if (absl::Status st = s->CreatePipelineAudioLocked(options.audio.sample_rate_hertz); !st.ok()) return st;
  } else {
    auto d = CompressedStreamDecoder::Create(
        options.audio.encoding == AudioEncoding::kFlac ? CompressedCodec::kFlac : CompressedCodec::kOggOpus,
        "audio stream", limits.max_stream_seconds,
        CompressedStreamDecoder::OpusRateFor(static_cast<int>(mc.features.frame_opts().samp_freq)));
    if (!d.ok()) return d.status();
    s->container_ = std::move(*d);
  }
  return s;
}

RecognitionStream::~RecognitionStream() = default;

void RecognitionStream::SetWakeHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  wake_hook_ = std::move(hook);
}

bool RecognitionStream::HasWorkLocked() const {
  if (finished_) return false;
  return !inputs_.empty() || end_utterance_ || (input_done_ && inputs_done_ == inputs_pushed_);
}

RecognitionStream::Clock::time_point RecognitionStream::OldestWorkLocked() const {
  if (!arrivals_.empty()) return arrivals_.front();
  return HasWorkLocked() ? settle_since_ : Clock::time_point::max();
}

void RecognitionStream::PublishReadinessLocked() {
  ready_since_.store(OldestWorkLocked().time_since_epoch().count(), std::memory_order_release);
}

std::function<void()> RecognitionStream::WakeIfNewLocked(bool had_work) {
  PublishReadinessLocked();
  return !had_work && HasWorkLocked() ? wake_hook_ : nullptr;
}

bool RecognitionStream::IsReady() {
  std::lock_guard<std::mutex> lock(mu_);
  return HasWorkLocked();
}

std::vector<RecognitionResult> RecognitionStream::TakeResults(bool* last_taken) {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeResultsLocked(last_taken);
}

std::vector<RecognitionResult> RecognitionStream::TakeResultsLocked(bool* last_taken) {
  if (last_taken != nullptr) {
    *last_taken = finished_ && !last_taken_;
    last_taken_ = finished_;
  }
  return std::exchange(results_, {});
}

bool RecognitionStream::IsFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

size_t RecognitionStream::PendingInputs() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(inputs_pushed_ - inputs_done_);
}

bool RecognitionStream::Backlogged(double fraction) {
  std::lock_guard<std::mutex> lock(mu_);
  const double pending = static_cast<double>(inputs_pushed_ - inputs_done_) * model_->output_frame_seconds();
  return pending > fraction * limits_.max_backlog_seconds;
}

double RecognitionStream::processed_seconds() {
  std::lock_guard<std::mutex> lock(mu_);
  return ProcessedSecondsLocked();
}

double RecognitionStream::ProcessedSecondsLocked() {
  // Caught up: every model input the received audio allows has been run;
  // the last few tens of ms wait for following samples (analysis window,
  // frame stacking), which no amount of compute can hurry.
  const double now =
      inputs_done_ == inputs_pushed_
          ? audio_seconds_
          : std::min(audio_seconds_, static_cast<double>(inputs_done_) * model_->output_frame_seconds());
  processed_seconds_ = std::max(processed_seconds_, now);
  return processed_seconds_;
}

// ---- producer side -------------------------------------------------------------

absl::Status RecognitionStream::AcceptAudio(const std::string& bytes) {
  std::lock_guard<std::mutex> audio_lock(audio_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return absl::OkStatus();  // e.g. after a single-utterance final
    if (input_done_) return absl::InvalidArgumentError("audio after the end of input");
  }
  if (static_cast<int64_t>(bytes.size()) > limits_.max_chunk_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio message of ", bytes.size(), " bytes exceeds ", limits_.max_chunk_bytes));
  }
  if (bytes.empty()) return absl::OkStatus();
  if (options_.audio.raw()) {
    // The stream's length limit is FeedAudioLocked's (OUT_OF_RANGE), for one
    // chunk as for many; a chunk is already bounded by max_chunk_bytes.
    auto audio = DecodeRawPcm(bytes.data(), bytes.size(), options_.audio.raw_format(), "audio chunk");
    if (!audio.ok()) return audio.status();
    return FeedAudioLocked(audio->samples, audio->sample_rate);
  }
  std::vector<float> mono;
  if (absl::Status st = container_->Accept(bytes.data(), bytes.size(), &mono); !st.ok()) return st;
  if (container_->buffered_bytes() > static_cast<size_t>(limits_.max_chunk_bytes) * 64) {
    return absl::OutOfRangeError(
        "compressed stream holds more undecodable bytes than the server's buffer limit");
  }
  return mono.empty() ? absl::OkStatus() : FeedAudioLocked(mono, container_->sample_rate());
}

absl::Status RecognitionStream::AcceptWaveform(int sample_rate, const float* samples, size_t n) {
  std::lock_guard<std::mutex> audio_lock(audio_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return absl::OkStatus();
    if (input_done_) return absl::InvalidArgumentError("audio after the end of input");
  }
  if (sample_rate < 1000 || sample_rate > 384000) {
    return absl::InvalidArgumentError(absl::StrCat("sample rate ", sample_rate, " not in [1000, 384000]"));
  }
  return FeedAudioLocked(std::vector<float>(samples, samples + n), sample_rate);
}

absl::Status RecognitionStream::CreatePipelineAudioLocked(int rate) {
  const AcousticModelConfig& mc = model_->network->config();
  auto p = StreamingFeaturePipeline::Create(rate, mc.features, &model_->network->cmvn(), mc.online_cmn);
  if (!p.ok()) return p.status();
  pipeline_ = std::move(*p);
  input_rate_ = rate;
  return absl::OkStatus();
}

absl::Status RecognitionStream::FeedAudioLocked(const std::vector<float>& mono, int rate) {
  if (!pipeline_) {
    if (absl::Status st = CreatePipelineAudioLocked(rate); !st.ok()) return st;
  } else if (rate != input_rate_) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample rate changed from ", input_rate_, " to ", rate, " Hz"));
  }
  fed_seconds_ += static_cast<double>(mono.size()) / rate;
  if (fed_seconds_ > limits_.max_stream_seconds) {
    return absl::OutOfRangeError(
        absl::StrCat("stream longer than the server's maximum of ", limits_.max_stream_seconds, " s"));
  }
  if (absl::Status st = pipeline_->AcceptAudio(mono.data(), mono.size()); !st.ok()) return st;
  return QueueInputsAudioLocked(/*finish=*/false);
}

absl::Status RecognitionStream::QueueInputsAudioLocked(bool finish) {
  std::vector<std::vector<float>> stacked;
  if (pipeline_) {
    if (finish) {
      if (absl::Status st = pipeline_->InputFinished(); !st.ok()) return st;
    }
    std::vector<float> frame(static_cast<size_t>(pipeline_->Dim())), out;
    for (; next_frame_ < pipeline_->NumFramesReady(); ++next_frame_) {
      if (absl::Status st = pipeline_->CopyFrame(next_frame_, frame.data()); !st.ok()) return st;
      if (stacker_->Push(frame.data(), &out)) stacked.push_back(std::move(out));
    }
    pipeline_->DiscardFramesBefore(next_frame_);
    if (finish && stacker_->Flush(&out)) stacked.push_back(std::move(out));
  }
  const auto now = Clock::now();
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool had_work = HasWorkLocked();
    for (auto& x : stacked) {
      inputs_.push_back(std::move(x));
      arrivals_.push_back(now);
    }
    inputs_pushed_ += static_cast<int64_t>(stacked.size());
    if (!stacked.empty()) chunk_marks_.emplace_back(inputs_pushed_, now);
    audio_seconds_ = fed_seconds_;
    if (finish) {
      input_done_ = true;
      settle_since_ = now;
    }
    wake = WakeIfNewLocked(had_work);
  }
  if (wake) wake();
  return absl::OkStatus();
}

absl::Status RecognitionStream::InputFinished() {
  std::lock_guard<std::mutex> audio_lock(audio_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (input_done_ || finished_) return absl::OkStatus();
  }
  if (container_) {
    std::vector<float> mono;
    if (absl::Status st = container_->Finish(&mono); !st.ok()) return st;
    if (!mono.empty()) {
      if (absl::Status st = FeedAudioLocked(mono, container_->sample_rate()); !st.ok()) return st;
    }
  }
  return QueueInputsAudioLocked(/*finish=*/true);
}

void RecognitionStream::EndUtterance() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || end_utterance_) return;
    const bool had_work = HasWorkLocked();
    end_utterance_ = true;
    settle_since_ = Clock::now();
    wake = WakeIfNewLocked(had_work);
  }
  if (wake) wake();
}

// ---- decode side ---------------------------------------------------------------

bool RecognitionStream::PopInput(std::vector<float>* x) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_ || inputs_.empty()) return false;
  *x = std::move(inputs_.front());
  inputs_.pop_front();
  arrivals_.pop_front();
  PublishReadinessLocked();
  return true;
}

void RecognitionStream::AcceptLogProbs(const float* log_probs, int64_t vocab) {
  std::lock_guard<std::mutex> lock(mu_);
  AcceptLogProbsLocked(log_probs, vocab);
  PublishReadinessLocked();
}

void RecognitionStream::AcceptLogProbsLocked(const float* log_probs, int64_t vocab) {
  if (finished_) return;
  const bool had_speech = decoder_->has_speech();
  decoder_->Accept(log_probs, 1);
  ++inputs_done_;
  const double frame_s = model_->output_frame_seconds();
  if (options_.speech_events && !had_speech && decoder_->has_speech()) {
    EmitEventLocked(SpeechEvent::kBegin, static_cast<double>(decoder_->frames() - 1) * frame_s);
  }
  const auto now = Clock::now();
  if (!chunk_marks_.empty() && decoder_->trailing_blank_frames() == 0 &&
      std::max_element(log_probs, log_probs + vocab) != log_probs) {
    speech_arrival_ = chunk_marks_.front().second;  // the chunk holding this frame
  }
  bool chunk_done = false;
  while (!chunk_marks_.empty() && chunk_marks_.front().first <= inputs_done_) {
    chunk_done = true;
    if (observer_) observer_->OnChunkDecoded(Seconds(now - chunk_marks_.front().second));
    chunk_marks_.pop_front();
  }
  if (observer_) observer_->OnAudioDecoded(frame_s);
  const double endpoint_s = options_.endpoint.effective_seconds();
  if (endpoint_s > 0 && decoder_->has_speech() &&
      static_cast<double>(decoder_->trailing_blank_frames()) * frame_s >= endpoint_s) {
    if (observer_) observer_->OnFinalResult(Seconds(now - speech_arrival_));
    EndUtteranceLocked();
  } else if (options_.interim_results && chunk_done && !(input_done_ && inputs_done_ == inputs_pushed_)) {
    // A received chunk is fully decoded: report progress, however fast the
    // audio arrives (the final result follows at once when input is done).
    EmitLocked(/*is_final=*/false);
  }
}

void RecognitionStream::Settle() {
  std::lock_guard<std::mutex> lock(mu_);
  SettleLocked();
  PublishReadinessLocked();
}

void RecognitionStream::SettleLocked() {
  if (end_utterance_) {
    end_utterance_ = false;
    if (!finished_ && decoder_->has_speech()) EndUtteranceLocked();
  }
  FinishIfDoneLocked();
}

std::vector<RecognitionResult> RecognitionStream::DecodeOutput(const float* log_probs, int64_t vocab,
                                                               bool* last_taken) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_probs != nullptr) AcceptLogProbsLocked(log_probs, vocab);
  SettleLocked();
  PublishReadinessLocked();
  return TakeResultsLocked(last_taken);
}

void RecognitionStream::EmitEventLocked(SpeechEvent event, double seconds) {
  RecognitionResult r;
  r.event = event;
  r.event_seconds = seconds;
  r.utterance_index = utterance_;
  r.processed_seconds = ProcessedSecondsLocked();
  results_.push_back(std::move(r));
}

void RecognitionStream::EmitSpeechEndLocked() {
  if (!options_.speech_events || !decoder_->has_speech()) return;
  EmitEventLocked(SpeechEvent::kEnd,
                  static_cast<double>(decoder_->frames() - decoder_->trailing_blank_frames()) *
                      model_->output_frame_seconds());
}

void RecognitionStream::EndUtteranceLocked() {
  EmitSpeechEndLocked();
  EmitLocked(/*is_final=*/true);
  decoder_->Reset();
  ++utterance_;
  if (options_.endpoint.single_utterance) finished_ = true;
}

void RecognitionStream::FinishIfDoneLocked() {
  if (finished_ || !input_done_ || inputs_done_ < inputs_pushed_) return;
  if (decoder_->has_speech() || utterance_ == 0) {
    EmitSpeechEndLocked();
    EmitLocked(/*is_final=*/true);
    if (observer_) observer_->OnFinalResult(Seconds(Clock::now() - settle_since_));
  }
  finished_ = true;
}

void RecognitionStream::EmitLocked(bool is_final) {
  RecognitionResult r;
  r.is_final = is_final;
  r.utterance_index = utterance_;
  r.end_seconds = static_cast<double>(decoder_->frames()) * model_->output_frame_seconds();
  r.processed_seconds = ProcessedSecondsLocked();
  r.alternatives = decoder_->NBest(std::max(1, options_.decoding.max_alternatives));
  const std::string& text = r.alternatives.front().text;
  if (!is_final) {
    r.stability = Stability(last_interim_, text);
    last_interim_ = text;
  } else {
    last_interim_.clear();
  }
  r.end_of_single_utterance = is_final && options_.endpoint.single_utterance;
  results_.push_back(std::move(r));
}

}  // namespace asr
