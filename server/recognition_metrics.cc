#include "server/recognition_metrics.h"

namespace asr::server {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace

RecognitionMetrics::RecognitionMetrics(prometheus::Registry& r)
    : active_(prometheus::BuildGauge().Name("asr_streams_active").Help("Streaming recognitions in progress.").Register(r).Add({})),
      streams_(prometheus::BuildCounter()
                   .Name("asr_streams_total")
                   .Help("Finished streaming recognitions by gRPC status code.")
                   .Register(r)),
      requests_(prometheus::BuildCounter()
                    .Name("asr_recognize_requests_total")
                    .Help("Unary Recognize calls by gRPC status code.")
                    .Register(r)),
      audio_(prometheus::BuildCounter()
                 .Name("asr_audio_processed_seconds_total")
                 .Help("Seconds of audio run through recognition models.")
                 .Register(r)
                 .Add({})),
      chunk_latency_(prometheus::BuildHistogram()
                         .Name("asr_stream_chunk_latency_seconds")
                         .Help("From an audio chunk's arrival to the decoding of its last frame.")
                         .Register(r)
                         .Add({}, LatencyBuckets())),
      final_latency_(prometheus::BuildHistogram()
                         .Name("asr_stream_final_latency_seconds")
                         .Help("From the arrival of the audio that ends an utterance to its final result.")
                         .Register(r)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5})),
      batch_size_(prometheus::BuildHistogram()
                      .Name("asr_inference_batch_size")
                      .Help("Streams advanced by one batched LSTM step.")
                      .Register(r)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
      step_seconds_(prometheus::BuildHistogram()
                        .Name("asr_inference_step_duration_seconds")
                        .Help("Duration of one batched LSTM step.")
                        .Register(r)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1})),
      rtf_(prometheus::BuildGauge()
               .Name("asr_recognition_real_time_factor")
               .Help("Inference seconds per second of streamed audio over recent batches.")
               .Register(r)
               .Add({})) {}

void RecognitionMetrics::StreamFinished(const std::string& code) {
  active_.Decrement();
  streams_.Add({{"code", code}}).Increment();
}

void RecognitionMetrics::RecognizeFinished(const std::string& code) { requests_.Add({{"code", code}}).Increment(); }

void RecognitionMetrics::AudioProcessed(double seconds) { audio_.Increment(seconds); }

void RecognitionMetrics::Batch(int size, double seconds, double audio_seconds) {
  batch_size_.Observe(size);
  step_seconds_.Observe(seconds);
  std::lock_guard<std::mutex> lock(mu_);
  window_compute_ += seconds;
  window_audio_ += audio_seconds;
  if (window_audio_ >= 60) {  // refresh about every minute of audio
    rtf_.Set(window_compute_ / window_audio_);
    window_compute_ = window_audio_ = 0;
  } else if (rtf_.Value() == 0 && window_audio_ > 0) {
    rtf_.Set(window_compute_ / window_audio_);
  }
}

}  // namespace asr::server
