// Prometheus metrics of the training half of the service (prefix asr_,
// base units, counters end in _total):
//   asr_training_jobs{state}                         gauge, jobs per state
//   asr_training_steps_total                         counter, optimizer steps of all jobs
//   asr_training_skipped_steps_total                 counter, non-finite steps skipped
//   asr_training_loss{job}                           gauge, latest logged training loss
//   asr_training_learning_rate{job}                  gauge
//   asr_training_frames_per_second{job}              gauge, feature frames (10 ms) per second
//   asr_training_dev_cer_ratio{job}, _dev_wer_ratio  gauges, latest validation
// The per-job series live while their job runs and are removed when it
// stops (any end state, or a server shutdown): the series count stays
// bounded by the running jobs; a finished job's figures are in GetJob and
// in Prometheus's history.
//   asr_checkpoint_write_duration_seconds            histogram
//   asr_checkpoint_write_failures_total              counter
//   asr_dataset_upload_bytes_total                   counter, bytes received by UploadDataset
// Thread-safe (prometheus-cpp metrics are).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "asr/v1/training.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace asr::server {

class TrainingMetrics {
 public:
  explicit TrainingMetrics(prometheus::Registry& registry);

  void SetJobCount(asr::v1::JobState state, double count);
  void OnSteps(double steps) { steps_.Increment(steps); }
  void OnSkippedSteps(double n) { skipped_.Increment(n); }
  void OnProgress(const std::string& job, double loss, double lr, double fps);
  void OnValidation(const std::string& job, double cer, double wer);
  void OnCheckpoint(double seconds, bool failed);
  void OnUploadBytes(double bytes) { upload_bytes_.Increment(bytes); }
  // Drops every per-job series of a job that is no longer running.
  void ForgetJob(const std::string& job);

 private:
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Counter& steps_;
  prometheus::Counter& skipped_;
  prometheus::Family<prometheus::Gauge>& loss_;
  prometheus::Family<prometheus::Gauge>& lr_;
  prometheus::Family<prometheus::Gauge>& fps_;
  prometheus::Family<prometheus::Gauge>& cer_;
  prometheus::Family<prometheus::Gauge>& wer_;
  prometheus::Histogram& checkpoint_seconds_;
  prometheus::Counter& checkpoint_failures_;
  prometheus::Counter& upload_bytes_;
};

}  // namespace asr::server
