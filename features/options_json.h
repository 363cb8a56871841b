// FeatureOptions <-> JSON with flat, Kaldi-like field names. Used by model
// configs, checkpoints, training configs and golden-data tests. Missing
// fields keep their defaults (for the chosen type); unknown fields and
// values of the wrong type are errors naming the field.
#pragma once

#include "absl/status/statusor.h"
#include "features/online_features.h"
#include "nlohmann/json.hpp"

namespace asr {

// Every field of the active type's options, e.g.
// {"type":"fbank","sample_rate":16000,"frame_shift_ms":10,...}.
nlohmann::json FeatureOptionsToJson(const FeatureOptions& opts);
absl::StatusOr<FeatureOptions> FeatureOptionsFromJson(const nlohmann::json& j);

}  // namespace asr
