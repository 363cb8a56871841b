#include "server/training_metrics.h"

namespace asr::server {
namespace {

const char* StateLabel(asr::v1::JobState s) {
  switch (s) {
    case asr::v1::QUEUED: return "queued";
    case asr::v1::RUNNING: return "running";
    case asr::v1::SUCCEEDED: return "succeeded";
    case asr::v1::FAILED: return "failed";
    case asr::v1::CANCELLED: return "cancelled";
    default: return "unspecified";
  }
}

prometheus::Family<prometheus::Gauge>& JobGauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

TrainingMetrics::TrainingMetrics(prometheus::Registry& r)
    : jobs_(prometheus::BuildGauge().Name("asr_training_jobs").Help("Training jobs by state.").Register(r)),
      steps_(prometheus::BuildCounter()
                 .Name("asr_training_steps_total")
                 .Help("Optimizer steps taken by all training jobs.")
                 .Register(r)
                 .Add({})),
      skipped_(prometheus::BuildCounter()
                   .Name("asr_training_skipped_steps_total")
                   .Help("Training steps skipped for a non-finite loss or gradient.")
                   .Register(r)
                   .Add({})),
      loss_(JobGauge(r, "asr_training_loss", "Latest logged training loss (CTC per target character).")),
      lr_(JobGauge(r, "asr_training_learning_rate", "Current learning rate.")),
      fps_(JobGauge(r, "asr_training_frames_per_second", "Feature frames (10 ms) trained per second.")),
      cer_(JobGauge(r, "asr_training_dev_cer_ratio", "Character error rate on the dev set at the latest validation.")),
      wer_(JobGauge(r, "asr_training_dev_wer_ratio", "Word error rate on the dev set at the latest validation.")),
      checkpoint_seconds_(prometheus::BuildHistogram()
                              .Name("asr_checkpoint_write_duration_seconds")
                              .Help("Time to write a checkpoint atomically.")
                              .Register(r)
                              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      checkpoint_failures_(prometheus::BuildCounter()
                               .Name("asr_checkpoint_write_failures_total")
                               .Help("Checkpoint writes that failed.")
                               .Register(r)
                               .Add({})),
      upload_bytes_(prometheus::BuildCounter()
                        .Name("asr_dataset_upload_bytes_total")
                        .Help("Bytes of dataset files received by UploadDataset.")
                        .Register(r)
                        .Add({})) {
  for (auto s : {asr::v1::QUEUED, asr::v1::RUNNING, asr::v1::SUCCEEDED, asr::v1::FAILED, asr::v1::CANCELLED}) {
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
  for (auto* fam : {&loss_, &lr_, &fps_}) {
    if (fam->Has({{"job", job}})) fam->Remove(&fam->Add({{"job", job}}));
  }
}

}  // namespace asr::server
