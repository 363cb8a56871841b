// Prometheus metrics of the recognition half of the service:
//   asr_streams_active                          gauge
//   asr_streams_total{code}                     counter, finished streams by gRPC status code
//   asr_recognize_requests_total{code}          counter, unary Recognize calls by status code
//   asr_audio_processed_seconds_total           counter, audio run through models
//   asr_stream_chunk_latency_seconds            histogram, audio chunk arrival -> its frames decoded
//   asr_stream_final_latency_seconds            histogram, end of speech (chunk arrival) -> final result
//   asr_inference_batch_size                    histogram, streams per batched LSTM step
//   asr_inference_step_duration_seconds         histogram, one batched step
//   asr_recognition_real_time_factor            gauge, inference seconds / audio seconds (last minute-ish)
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
  void RecognizeFinished(const std::string& code);
  void AudioProcessed(double seconds);

  // RecognitionObserver
  void OnAudioDecoded(double seconds) override { AudioProcessed(seconds); }
  void OnChunkDecoded(double latency_seconds) override { chunk_latency_.Observe(latency_seconds); }
  void OnEndpointFinal(double latency_seconds) override { final_latency_.Observe(latency_seconds); }
  void OnBatch(int streams, double seconds, double audio_seconds) override;

 private:
  prometheus::Gauge& active_;
  prometheus::Family<prometheus::Counter>& streams_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& audio_;
  prometheus::Histogram& chunk_latency_;
  prometheus::Histogram& final_latency_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& step_seconds_;
  prometheus::Gauge& rtf_;
  std::mutex mu_;
  double window_compute_ = 0, window_audio_ = 0;  // guarded by mu_
};

}  // namespace asr::server
