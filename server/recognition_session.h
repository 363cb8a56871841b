// One streaming recognition: validates the config, decodes audio chunks
// (raw PCM directly; FLAC/Ogg-Opus by re-decoding the bytes received so
// far), runs the feature pipeline and frame stacking, queues model inputs
// on the StreamScheduler, and turns the log-probabilities that come back
// into interim results, endpointed finals and the end-of-stream final.
// Independent of gRPC: responses go to the `emit` callback. Thread-safe
// (audio arrives on gRPC threads, results on the inference thread).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "asr/v1/recognition.pb.h"
#include "features/pipeline.h"
#include "model/ctc.h"
#include "server/model_registry.h"
#include "server/recognition_metrics.h"
#include "server/stream_scheduler.h"

namespace asr::server {

struct SessionLimits {
  double max_stream_seconds = 3600;   // audio per stream
  int64_t max_chunk_bytes = 1 << 20;  // per audio message
};

// Decoder settings for a stream or request on `model`: greedy, or beam
// search for N-best and for lexicon-constrained decoding.
// FAILED_PRECONDITION when a lexicon is asked of a model that has none.
absl::StatusOr<CtcDecoderOptions> DecoderOptionsFor(const asr::v1::RecognitionConfig& config,
                                                    const ServingModel& model);

class RecognitionSession : public StreamScheduler::Client {
 public:
  using Emit = std::function<void(asr::v1::StreamingRecognizeResponse)>;
  // `emit` is called with each response, in order, from any thread; `done`
  // once, after the last response (status OK or the stream's error).
  // `metrics` (may be null) is not owned.
  static absl::StatusOr<std::unique_ptr<RecognitionSession>> Create(const asr::v1::RecognitionConfig& config,
                                                                    ModelRegistry* models,
                                                                    StreamScheduler* scheduler,
                                                                    SessionLimits limits, Emit emit,
                                                                    std::function<void(absl::Status)> done,
                                                                    RecognitionMetrics* metrics = nullptr);
  ~RecognitionSession() override;

  // One audio message. INVALID_ARGUMENT for malformed audio; OUT_OF_RANGE
  // past max_stream_seconds.
  absl::Status AcceptAudio(const std::string& bytes);
  // The client finished sending: flush, then the final result and done().
  absl::Status InputDone();
  // Inputs queued on the scheduler (backpressure signal).
  size_t PendingInputs();
  double processed_seconds();
  // Stops everything now; no callback after it returns.
  void Cancel();

  void OnLogProbs(const float* log_probs, int64_t vocab) override;

 private:
  RecognitionSession() = default;
  absl::Status FeedSamples(const std::vector<float>& mono, int rate);
  absl::Status DrainFeatures(bool flush);
  void EmitResult(bool is_final);
  void MaybeFinishLocked();
  double ProcessedSecondsLocked() const;

  asr::v1::RecognitionConfig config_;
  std::shared_ptr<const ServingModel> model_;
  StreamScheduler* scheduler_ = nullptr;
  SessionLimits limits_;
  Emit emit_;
  std::function<void(absl::Status)> done_;
  int64_t stream_id_ = 0;
  std::string model_label_;
  double endpoint_seconds_ = 0.8;

  std::mutex mu_;
  std::unique_ptr<StreamingFeaturePipeline> pipeline_;  // guarded by mu_ (audio side)
  std::unique_ptr<FrameStacker> stacker_;
  std::string container_bytes_;    // FLAC/Ogg bytes so far
  size_t container_decoded_ = 0;   // samples already fed from the container
  size_t container_tried_at_ = 0;  // bytes at the last decode attempt
  int input_rate_ = 0;
  int64_t next_frame_ = 0;     // next feature frame to stack
  int64_t inputs_pushed_ = 0;  // model inputs queued in total
  double audio_seconds_ = 0;   // audio received
  bool input_done_ = false;

  using Clock = std::chrono::steady_clock;
  // (model inputs queued after a chunk, the chunk's arrival), oldest first.
  std::deque<std::pair<int64_t, Clock::time_point>> chunk_marks_;
  Clock::time_point speech_arrival_;  // arrival of the audio of the latest non-blank frame
  RecognitionMetrics* metrics_ = nullptr;

  std::unique_ptr<CtcDecoder> decoder_;  // touched on the inference thread, under mu_
  int64_t inputs_done_ = 0;
  int utterance_ = 0;
  std::string last_interim_;
  bool finished_ = false, cancelled_ = false;
};

}  // namespace asr::server
