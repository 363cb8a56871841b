// What a training run reports as it goes (ProgressEvent: steps, validations,
// checkpoints, skipped steps, messages, the end) and why it ended
// (StopReason). asr-train draws them, the job manager turns them into job
// events and metrics, and every event is a line of OUT/train_log.jsonl.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "model/base/fields.h"
#include "nlohmann/json.hpp"

namespace asr {

// Why a run ended.
enum class StopReason {
  kCompleted,      // every epoch ran
  kMaxSteps,       // train.max_steps reached
  kTimeBudget,     // train.time_budget_minutes spent
  kEarlyStopping,  // dev CER stopped improving (train.early_stopping_patience)
  kCancelled,      // *cancel was set; a checkpoint was written
};
absl::Span<const fields::EnumName<StopReason>> EnumNames(StopReason);

struct ProgressEvent {
  // kSkippedStep: a step with a non-finite loss or gradient was skipped
  // (skipped_steps counts them so far; message says so for people).
  enum class Kind { kStep, kValidation, kCheckpoint, kMessage, kDone, kSkippedStep };
  Kind kind = Kind::kMessage;
  int64_t step = -1, epoch = -1;  // -1: filled in with the trainer's current values
  int64_t total_steps = 0, total_epochs = 0;
  double loss = 0;  // mean training loss since the previous step event
  double learning_rate = 0;
  double frames_per_second = 0;  // feature frames (10 ms) trained per wall second
  double eta_seconds = 0;
  // kStep, means per step since the previous step event: wall time, and the
  // part of it in the gradient allreduce across ranks (waiting for the
  // slowest rank included; 0 in a single process).
  double step_seconds = 0, allreduce_seconds = 0;
  double elapsed_seconds = 0;                     // training wall time, across resumes
  double dev_loss = 0, dev_cer = 0, dev_wer = 0;  // kValidation
  bool is_best = false;                           // kValidation
  std::string checkpoint_path;                    // kCheckpoint
  double checkpoint_seconds = 0;                  // kCheckpoint: write time
  bool checkpoint_failed = false;                 // kCheckpoint: the write failed (message says why)
  std::string message;                            // kMessage, kDone (the stop reason), kSkippedStep
  int64_t skipped_steps = 0;
  nlohmann::json ToJson() const;
  // The inverse of ToJson() (a line of train_log.jsonl); fields it lacks
  // keep their defaults. INVALID_ARGUMENT for an unknown kind or a field of
  // the wrong type.
  static absl::StatusOr<ProgressEvent> FromJson(const nlohmann::json& j);
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

}  // namespace asr
