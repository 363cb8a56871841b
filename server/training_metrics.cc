#include "server/training_metrics.h"

#include "server/metric_families.h"

namespace asr::server {
namespace {

const char* StateLabel(asr::v1::JobState s) {
  switch (s) {
    case asr::v1::QUEUED:
      return "queued";
    case asr::v1::RUNNING:
      return "running";
    case asr::v1::SUCCEEDED:
      return "succeeded";
    case asr::v1::FAILED:
      return "failed";
    case asr::v1::CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

}  // namespace

TrainingMetrics::TrainingMetrics(prometheus::Registry& r)
    : jobs_(GaugeFamily(r, "asr_training_jobs", "Training jobs by state.")),
      steps_(Counter(r, "asr_training_steps_total", "Optimizer steps taken by all training jobs.")),
      skipped_(Counter(r, "asr_training_skipped_steps_total",
                       "Training steps skipped for a non-finite loss or gradient.")),
      loss_(GaugeFamily(r, "asr_training_loss", "Latest logged training loss (CTC per target character).")),
      lr_(GaugeFamily(r, "asr_training_learning_rate", "Current learning rate.")),
      fps_(GaugeFamily(r, "asr_training_frames_per_second", "Feature frames (10 ms) trained per second.")),
      cer_(GaugeFamily(r, "asr_training_dev_cer_ratio",
                       "Character error rate on the dev set at the latest validation.")),
      wer_(GaugeFamily(r, "asr_training_dev_wer_ratio",
                       "Word error rate on the dev set at the latest validation.")),
      checkpoint_seconds_(Histogram(r, "asr_checkpoint_write_duration_seconds",
                                    "Time to write a checkpoint atomically.",
                                    {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      checkpoint_failures_(
          Counter(r, "asr_checkpoint_write_failures_total", "Checkpoint writes that failed.")),
      upload_bytes_(
          Counter(r, "asr_dataset_upload_bytes_total", "Bytes of dataset files received by UploadDataset.")) {
  for (auto s :
       {asr::v1::QUEUED, asr::v1::RUNNING, asr::v1::SUCCEEDED, asr::v1::FAILED, asr::v1::CANCELLED}) {
    jobs_.Add({{"state", StateLabel(s)}}).Set(0);
  }
}

void TrainingMetrics::SetJobCount(asr::v1::JobState state, double count) {
  jobs_.Add({{"state", StateLabel(state)}}).Set(count);
}

void TrainingMetrics::OnProgress(const std::string& job, double loss, double lr, double fps) {
  loss_.Add({{"job", job}}).Set(loss);
  lr_.Add({{"job", job}}).Set(lr);
  fps_.Add({{"job", job}}).Set(fps);
}

void TrainingMetrics::OnValidation(const std::string& job, double cer, double wer) {
  cer_.Add({{"job", job}}).Set(cer);
  wer_.Add({{"job", job}}).Set(wer);
}

void TrainingMetrics::OnCheckpoint(double seconds, bool failed) {
  if (failed) {
    checkpoint_failures_.Increment();
  } else {
    checkpoint_seconds_.Observe(seconds);
  }
}

void TrainingMetrics::ForgetJob(const std::string& job) {
  for (auto* fam : {&loss_, &lr_, &fps_, &cer_, &wer_}) {
    if (fam->Has({{"job", job}})) fam->Remove(&fam->Add({{"job", job}}));
  }
}

}  // namespace asr::server
