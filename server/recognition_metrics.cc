#include "server/recognition_metrics.h"

#include <utility>

#include "server/metric_families.h"

namespace asr::server {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace

RecognitionMetrics::RecognitionMetrics(prometheus::Registry& r)
    : active_(Gauge(r, "asr_streams_active", "Streaming recognitions in progress.")),
      streams_(CounterFamily(r, "asr_streams_total", "Finished streaming recognitions by gRPC status code.")),
      requests_(
          CounterFamily(r, "asr_recognize_requests_total", "Unary Recognize calls by gRPC status code.")),
      audio_(Counter(r, "asr_audio_processed_seconds_total",
                     "Seconds of audio run through recognition models.")),
      chunk_latency_(Histogram(r, "asr_stream_chunk_latency_seconds",
                               "From an audio chunk's arrival to the decoding of its last frame.",
                               LatencyBuckets())),
      final_latency_(Histogram(r, "asr_stream_final_latency_seconds",
                               "From the arrival of the audio that ends an utterance (its last speech at an "
                               "endpoint, the end of input at the end of a stream) to its final result.",
                               {0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5})),
      recognize_seconds_(Histogram(r, "asr_recognize_duration_seconds",
                                   "Unary Recognize calls, from the request's arrival to its response.",
                                   {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      batch_size_(Histogram(r, "asr_inference_batch_size", "Streams advanced by one batched LSTM step.",
                            {1, 2, 4, 8, 16, 32, 64, 128, 256})),
      step_seconds_(Histogram(r, "asr_inference_step_duration_seconds", "Duration of one batched LSTM step.",
                              {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1})),
      rtf_(Gauge(r, "asr_recognition_real_time_factor",
                 "Inference seconds per second of streamed audio over recent batches.")) {}

void RecognitionMetrics::StreamFinished(const std::string& code) {
  active_.Decrement();
  streams_.Add({{"code", code}}).Increment();
}

void RecognitionMetrics::RecognizeFinished(const std::string& code, double seconds) {
  requests_.Add({{"code", code}}).Increment();
  recognize_seconds_.Observe(seconds);
}

void RecognitionMetrics::AudioProcessed(double seconds) { audio_.Increment(seconds); }

void RecognitionMetrics::OnBatch(int streams, double seconds, double audio_seconds) {
  batch_size_.Observe(streams);
  step_seconds_.Observe(seconds);
  std::lock_guard<std::mutex> lock(mu_);
  window_compute_ += seconds;
  window_audio_ += audio_seconds;
  // Over the current window and the one before: the last 60-120 s of audio.
  rtf_.Set((window_compute_ + last_compute_) / (window_audio_ + last_audio_));
  if (window_audio_ >= 60) {
    last_compute_ = std::exchange(window_compute_, 0);
    last_audio_ = std::exchange(window_audio_, 0);
  }
}

}  // namespace asr::server
