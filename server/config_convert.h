// asr.v1.TrainingConfig (proto) <-> the trainer's TrainingConfig. The proto
// mirrors the JSON config field by field, so conversion goes through
// protobuf's JSON mapping (field names preserved, unset fields omitted) and
// TrainingConfig::FromJson, whose errors name the field; they come back
// prefixed with "config.".
#pragma once

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/training/training_config.h"

namespace asr::server {

absl::StatusOr<TrainingConfig> FromProto(const asr::v1::TrainingConfig& proto);
// The effective config (every default filled in) as a proto.
absl::StatusOr<asr::v1::TrainingConfig> ToProto(const TrainingConfig& config);

}  // namespace asr::server
