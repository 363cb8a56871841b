// Saving and loading an AcousticModel as one file (a "model" bundle, see
// bundle.h): config JSON, vocabulary, CMVN statistics and weights. A loaded
// model gives identical outputs.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "nlohmann/json.hpp"

namespace asr {

// `metadata` (any JSON object) is stored alongside, e.g. training results.
absl::Status SaveModel(const std::string& path, AcousticModel& model, const nlohmann::json& metadata = {});

struct LoadedModel {
  AcousticModel model{nullptr};
  nlohmann::json metadata;
};

// Loads a model file, or the model inside a checkpoint, onto the CPU in eval
// mode. Errors name the file and the problem.
absl::StatusOr<LoadedModel> LoadModel(const std::string& path);

// The weights/buffers of `module` as LibTorch archive bytes, and back.
std::string SerializeModule(torch::nn::Module& module);
absl::Status DeserializeModule(const std::string& bytes, torch::nn::Module& module, const std::string& source);

}  // namespace asr
