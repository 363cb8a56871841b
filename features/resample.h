// Sample-rate conversion with libsoxr (SOXR_HQ: 20-bit precision, linear
// phase, passband to 91.3% of the lower Nyquist), for whole signals and for
// streams.
//
// Chunking guarantee (libsoxr's own): a stream's output depends only on its
// input samples, not on how they were split into chunks: libsoxr buffers
// internally and processes fixed-size blocks. ResampleStream fed the same
// samples in any chunking returns the same samples as Resample() on the
// whole signal (tests/features/resample_test.cc checks this bit for bit,
// 1-sample chunks included). Output *timing* differs: a stream holds back
// the filter's delay (a few ms) until more input or Flush() arrives.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"

struct soxr;

namespace asr {

// Resamples a whole mono signal from in_rate to out_rate Hz. Returns the
// input unchanged when the rates are equal. Output length is
// round(n * out_rate / in_rate).
absl::StatusOr<std::vector<float>> Resample(const std::vector<float>& samples, double in_rate,
                                            double out_rate);

// Streaming mono resampler. Not thread-safe; one instance per stream.
class ResampleStream {
 public:
  static absl::StatusOr<std::unique_ptr<ResampleStream>> Create(double in_rate, double out_rate);
  ~ResampleStream();

  // Consumes `n` input samples; appends the output produced so far to *out.
  absl::Status Process(const float* in, size_t n, std::vector<float>* out);
  // Ends the input; appends the remaining output to *out. Further Process
  // calls are errors.
  absl::Status Flush(std::vector<float>* out);
  bool passthrough() const { return soxr_ == nullptr; }

 private:
  ResampleStream() = default;
  absl::Status Drain(const float* in, size_t n, std::vector<float>* out);

  soxr* soxr_ = nullptr;  // null when in_rate == out_rate (pass-through)
  double ratio_ = 1.0;
  bool flushed_ = false;
};

// Speed perturbation (Ko et al. 2015): plays `samples` `factor` times
// faster (0.9 = slower and lower, 1.1 = faster and higher) by resampling
// from rate*factor to rate. Output has about n / factor samples.
absl::StatusOr<std::vector<float>> SpeedPerturb(const std::vector<float>& samples, int sample_rate,
                                                double factor);

}  // namespace asr
