// Prometheus metrics of the recognition half of the service:
//   asr_streams_active                          gauge
//   asr_streams_total{code}                     counter, finished streams by gRPC status code
//   asr_recognize_requests_total{code}          counter, unary Recognize calls by status code
//   asr_audio_processed_seconds_total           counter, audio run through models
//   asr_stream_chunk_latency_seconds            histogram, audio chunk arrival -> its frames decoded
//   asr_stream_final_latency_seconds            histogram, end of an utterance's audio -> its final result
//                                               (endpoints and the end of the stream alike)
//   asr_recognize_duration_seconds              histogram, unary Recognize: request received -> response
//   asr_inference_batch_size                    histogram, streams per batched LSTM step
//   asr_inference_step_duration_seconds         histogram, one batched step
//   asr_recognition_real_time_factor            gauge, inference seconds / audio seconds, last 60-120 s of
//   audio
// It observes the recognizer library (RecognitionObserver). Thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "model/recognizer/recognition_observer.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace asr::server {

class RecognitionMetrics final : public RecognitionObserver {
 public:
  explicit RecognitionMetrics(prometheus::Registry& registry);

  void StreamStarted() { active_.Increment(); }
  void StreamFinished(const std::string& code);
  // A unary Recognize ended with `code`, `seconds` after it was received.
  void RecognizeFinished(const std::string& code, double seconds);
  void AudioProcessed(double seconds);

  // RecognitionObserver
  void OnAudioDecoded(double seconds) override { AudioProcessed(seconds); }
  void OnChunkDecoded(double latency_seconds) override { chunk_latency_.Observe(latency_seconds); }
  void OnFinalResult(double latency_seconds) override { final_latency_.Observe(latency_seconds); }
  void OnBatch(int streams, double seconds, double audio_seconds) override;

 private:
  prometheus::Gauge& active_;
  prometheus::Family<prometheus::Counter>& streams_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& audio_;
  prometheus::Histogram& chunk_latency_;
  prometheus::Histogram& final_latency_;
  prometheus::Histogram& recognize_seconds_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& step_seconds_;
  prometheus::Gauge& rtf_;
  std::mutex mu_;
  // Inference and audio seconds of the current window (up to 60 s of
  // audio) and of the one before; guarded by mu_.
  double window_compute_ = 0, window_audio_ = 0, last_compute_ = 0, last_audio_ = 0;
};

}  // namespace asr::server
