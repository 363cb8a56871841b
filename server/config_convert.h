// asr.v1.TrainingConfig (proto) <-> the trainer's TrainingConfig, field by
// field through the structs' Fields() lists and protobuf reflection
// (server/fields_proto.h); no JSON in between. Errors name the field with a
// "config." prefix, e.g. "config.model.hidden_size: ...".
#pragma once

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/training/training_config.h"

namespace asr::server {

// Read and validated; unset fields take the defaults.
absl::StatusOr<TrainingConfig> FromProto(const asr::v1::TrainingConfig& proto);
// The effective config (every default filled in) as a proto.
absl::StatusOr<asr::v1::TrainingConfig> ToProto(const TrainingConfig& config);

}  // namespace asr::server
