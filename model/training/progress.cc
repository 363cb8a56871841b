#include "model/training/progress.h"

namespace asr {

nlohmann::json ProgressEvent::ToJson() const {
  static const char* kKinds[] = {"step", "validation", "checkpoint", "message", "done", "skipped_step"};
  nlohmann::json j = {{"kind", kKinds[static_cast<int>(kind)]},
                      {"step", step},
                      {"epoch", epoch},
                      {"elapsed_seconds", elapsed_seconds}};
  switch (kind) {
    case Kind::kStep:
      j.update({{"total_steps", total_steps},
                {"total_epochs", total_epochs},
                {"loss", loss},
                {"learning_rate", learning_rate},
                {"frames_per_second", frames_per_second},
                {"eta_seconds", eta_seconds},
                {"skipped_steps", skipped_steps}});
      break;
    case Kind::kValidation:
      j.update({{"dev_loss", dev_loss}, {"dev_cer", dev_cer}, {"dev_wer", dev_wer}, {"is_best", is_best}});
      break;
    case Kind::kCheckpoint:
      j.update({{"checkpoint_path", checkpoint_path},
                {"checkpoint_seconds", checkpoint_seconds},
                {"checkpoint_failed", checkpoint_failed},
                {"message", message}});
      break;
    case Kind::kSkippedStep:
      j.update({{"skipped_steps", skipped_steps}, {"message", message}});
      break;
    default:
      j["message"] = message;
  }
  return j;
}

absl::Span<const fields::EnumName<StopReason>> EnumNames(StopReason) {
  static constexpr fields::EnumName<StopReason> kNames[] = {{StopReason::kCompleted, "completed"},
                                                            {StopReason::kMaxSteps, "max_steps"},
                                                            {StopReason::kTimeBudget, "time_budget"},
                                                            {StopReason::kEarlyStopping, "early_stopping"},
                                                            {StopReason::kCancelled, "cancelled"}};
  return kNames;
}

}  // namespace asr
