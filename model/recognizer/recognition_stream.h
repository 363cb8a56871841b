// RecognitionStream: one live recognition, from audio bytes to results,
// with no transport in it. The producer side accepts audio (raw PCM, or a
// FLAC/Ogg-Opus stream decoded as bytes arrive), runs the feature pipeline
// and frame stacking, and queues model inputs. The decode side
// (DecodeStreams in recognizer.h, usually driven by a StreamBatcher) runs
// those inputs through the model, batched across streams, and turns the
// log-probabilities into interim results, finals at endpoints, and the
// final result when the input ends. The caller collects results with
// TakeResults().
//
//   auto s = RecognitionStream::Create(model, options, limits);
//   (*s)->AcceptAudio(bytes);            // as audio arrives
//   (*s)->InputFinished();               // at the end
//   while ((*s)->IsReady()) DecodeStreams({s->get()});   // or a StreamBatcher
//   for (auto& r : (*s)->TakeResults()) ...;             // until IsFinished()
//
// Thread-safe: one producer thread and one decoding thread at a time may
// use a stream concurrently; TakeResults() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/compressed_stream.h"
#include "features/pipeline.h"
#include "model/acoustic_model.h"
#include "model/ctc.h"
#include "model/recognizer/recognition_observer.h"
#include "model/recognizer/recognition_options.h"
#include "model/recognizer/recognition_result.h"
#include "model/recognizer/recognizer_model.h"

namespace asr {

class RecognitionStream {
 public:
  using Clock = std::chrono::steady_clock;

  // INVALID_ARGUMENT naming the bad option (e.g. "sample_rate_hertz: ...",
  // "model: ... cannot stream"); FAILED_PRECONDITION for a lexicon the
  // model lacks. `observer` (may be null) is not owned and must outlive
  // the stream.
  static absl::StatusOr<std::unique_ptr<RecognitionStream>> Create(
      std::shared_ptr<const RecognizerModel> model, const StreamOptions& options,
      const StreamLimits& limits = {}, RecognitionObserver* observer = nullptr);
  ~RecognitionStream();

  // ---- producer side ----
  // One message of audio in options.audio's encoding. INVALID_ARGUMENT for
  // malformed audio, OUT_OF_RANGE past limits.max_stream_seconds. Ignored
  // (OK) once the stream is finished, e.g. after a single-utterance final.
  absl::Status AcceptAudio(const std::string& bytes);
  // Decoded samples: mono, in [-1, 1], at `sample_rate` Hz (which must not
  // change within a stream). Errors as AcceptAudio's.
  absl::Status AcceptWaveform(int sample_rate, const float* samples, size_t n);
  // No more audio: the last frames are queued and, once decoded, the final
  // result follows. A malformed container is INVALID_ARGUMENT here.
  absl::Status InputFinished();
  // Ends the current utterance now, as an endpoint would: its final result
  // (if it heard speech) comes with the next decode, and the next
  // utterance starts where it ends.
  void EndUtterance();

  // ---- results ----
  // True while the decode side has work: model inputs queued, an
  // EndUtterance() pending, or the input finished without its final result.
  bool IsReady();
  // The results made since the last call, in order. *last_taken (if
  // given) becomes true on the one call that takes the stream's last result.
  std::vector<RecognitionResult> TakeResults(bool* last_taken = nullptr);
  // True once the last result (the stream's final) has been made.
  bool IsFinished();
  // Model inputs queued and not yet decoded.
  size_t PendingInputs();
  // True while the audio queued and not yet decoded exceeds `fraction` of
  // limits.max_backlog_seconds: a producer stops reading at 1 and resumes
  // below a lower fraction (0.5) once decodes have drained it.
  bool Backlogged(double fraction = 1.0);
  // Audio fully run through the model so far, seconds.
  double processed_seconds();
  const RecognizerModel& model() const { return *model_; }
  const std::shared_ptr<const RecognizerModel>& shared_model() const { return model_; }

  // ---- decode side (DecodeStreams; a caller running the model itself may use these too) ----
  // Moves the oldest queued model input (input_dim floats: stacked,
  // normalized frames) into *x; false if none is queued.
  bool PopInput(std::vector<float>* x);
  // The model's log-probabilities [vocab] for the oldest popped input.
  void AcceptLogProbs(const float* log_probs, int64_t vocab);
  // Makes the results that need no model step: a pending EndUtterance(),
  // and the final result once the input is finished and all decoded.
  void Settle();

  // For a scheduler: when the oldest work the decode side has waiting
  // arrived (Clock::time_point::max() = none). Lock-free; always current.
  Clock::time_point ready_since() const {
    return Clock::time_point(Clock::duration(ready_since_.load(std::memory_order_acquire)));
  }
  // Called when the stream gets work while it had none, on the producer's
  // thread, with none of the stream's locks held (a scheduler wakes up).
  void SetWakeHook(std::function<void()> hook);

 private:
  friend void DecodeStreams(const std::vector<RecognitionStream*>& streams, RecognitionObserver* observer,
                            const std::function<void(size_t, std::vector<RecognitionResult>, bool)>& settled);
  RecognitionStream() = default;
  // DecodeStreams' whole decode side after the step, under one lock:
  // AcceptLogProbs (unless log_probs is null), Settle, TakeResults.
  std::vector<RecognitionResult> DecodeOutput(const float* log_probs, int64_t vocab, bool* last_taken);
  // Audio side; audio_mu_ held (or the stream not yet shared).
  absl::Status CreatePipelineAudioLocked(int rate);
  absl::Status FeedAudioLocked(const std::vector<float>& mono, int rate);
  // Stacks the feature frames ready (with `finish`, the last ones too) and
  // queues them; with `finish` the input ends in the same step.
  absl::Status QueueInputsAudioLocked(bool finish);
  // Shared side; mu_ held.
  void AcceptLogProbsLocked(const float* log_probs, int64_t vocab);
  void SettleLocked();
  std::vector<RecognitionResult> TakeResultsLocked(bool* last_taken);
  void EmitLocked(bool is_final);
  // A speech event result at `seconds` from the stream start.
  void EmitEventLocked(SpeechEvent event, double seconds);
  // The end event of the utterance in progress (speech_events), at its last non-blank frame's end.
  void EmitSpeechEndLocked();
  void FinishIfDoneLocked();
  void EndUtteranceLocked();
  bool HasWorkLocked() const;
  Clock::time_point OldestWorkLocked() const;
  // Stores OldestWorkLocked() in ready_since_; after every change of work.
  void PublishReadinessLocked();
  // The wake hook if the stream has work now and had none before.
  std::function<void()> WakeIfNewLocked(bool had_work);
  // Audio whose model inputs have all been run, seconds; never less than
  // an earlier answer (the two ways of counting it round differently).
  double ProcessedSecondsLocked();

  std::shared_ptr<const RecognizerModel> model_;
  StreamOptions options_;
  StreamLimits limits_;
  RecognitionObserver* observer_ = nullptr;

  // The audio side: decoding, features, stacking. Held for as long as a
  // message takes, so the decode side never waits on it (lock order:
  // audio_mu_, then mu_).
  std::mutex audio_mu_;
  std::unique_ptr<StreamingFeaturePipeline> pipeline_;  // created at the first samples (their rate)
  std::unique_ptr<FrameStacker> stacker_;
  std::unique_ptr<CompressedStreamDecoder> container_;  // FLAC/Ogg-Opus streams only
  int input_rate_ = 0;
  int64_t next_frame_ = 0;  // next feature frame to stack
  double fed_seconds_ = 0;  // audio fed to the pipeline

  // Shared between the sides and the decode side's own state; held briefly.
  std::mutex mu_;
  std::function<void()> wake_hook_;
  std::atomic<Clock::rep> ready_since_{Clock::time_point::max().time_since_epoch().count()};
  double audio_seconds_ = 0;      // audio received, as of the last queued inputs
  double processed_seconds_ = 0;  // the largest ProcessedSecondsLocked() so far
  bool input_done_ = false;
  // Model inputs: queued (oldest first), with their chunk's arrival time.
  std::deque<std::vector<float>> inputs_;
  std::deque<Clock::time_point> arrivals_;
  int64_t inputs_pushed_ = 0;  // queued in total
  int64_t inputs_done_ = 0;    // decoded in total
  // (inputs_pushed_ after a chunk, the chunk's arrival), oldest first.
  std::deque<std::pair<int64_t, Clock::time_point>> chunk_marks_;
  Clock::time_point settle_since_;  // when the pending EndUtterance() or InputFinished() came
  std::unique_ptr<CtcDecoder> decoder_;
  Clock::time_point speech_arrival_;  // arrival of the audio of the latest non-blank frame
  int utterance_ = 0;
  std::string last_interim_;
  bool end_utterance_ = false;  // EndUtterance() pending
  bool finished_ = false;
  bool last_taken_ = false;  // TakeResults() has handed out the last result
  std::vector<RecognitionResult> results_;
  // The decode side's alone (DecodeStreams), unguarded: [L, 1, *];
  // undefined before the first step (burn-in comes first).
  LstmState state_;
};

}  // namespace asr
