#include "model/training/progress.h"

#include <algorithm>
#include <iterator>

namespace asr {

namespace {
// Indexed by ProgressEvent::Kind.
constexpr const char* kKinds[] = {"step", "validation", "checkpoint", "message", "done", "skipped_step"};
}  // namespace

nlohmann::json ProgressEvent::ToJson() const {
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
                {"step_seconds", step_seconds},
                {"allreduce_seconds", allreduce_seconds},
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

absl::StatusOr<ProgressEvent> ProgressEvent::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("progress event: not a JSON object");
  ProgressEvent e;
  const std::string kind = j.value("kind", "");
  const auto* found = std::find(std::begin(kKinds), std::end(kKinds), kind);
  if (found == std::end(kKinds)) {
    return absl::InvalidArgumentError("progress event: unknown kind '" + kind + "'");
  }
  e.kind = static_cast<Kind>(found - std::begin(kKinds));
  try {
    auto get = [&j](const char* name, auto& field) {
      if (auto it = j.find(name); it != j.end() && !it->is_null()) it->get_to(field);
    };
    get("step", e.step);
    get("epoch", e.epoch);
    get("elapsed_seconds", e.elapsed_seconds);
    get("total_steps", e.total_steps);
    get("total_epochs", e.total_epochs);
    get("loss", e.loss);
    get("learning_rate", e.learning_rate);
    get("frames_per_second", e.frames_per_second);
    get("eta_seconds", e.eta_seconds);
    get("step_seconds", e.step_seconds);
    get("allreduce_seconds", e.allreduce_seconds);
    get("skipped_steps", e.skipped_steps);
    get("dev_loss", e.dev_loss);
    get("dev_cer", e.dev_cer);
    get("dev_wer", e.dev_wer);
    get("is_best", e.is_best);
    get("checkpoint_path", e.checkpoint_path);
    get("checkpoint_seconds", e.checkpoint_seconds);
    get("checkpoint_failed", e.checkpoint_failed);
    get("message", e.message);
  } catch (const nlohmann::json::exception& ex) {
    return absl::InvalidArgumentError(std::string("progress event: ") + ex.what());
  }
  return e;
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
