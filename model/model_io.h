// Saving and loading an AcousticModel as one file (a "model" bundle, see
// bundle.h): config JSON, vocabulary, CMVN statistics and weights. A loaded
// model gives identical outputs.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "model/ctc.h"
#include "nlohmann/json.hpp"

namespace asr {

// `metadata` (any JSON object) is stored alongside, e.g. training results.
absl::Status SaveModel(const std::string& path, AcousticModel& model, const nlohmann::json& metadata = {});

struct LoadedModel {
  AcousticModel model{nullptr};
  nlohmann::json metadata;
};

// Loads a model file, or the model inside a checkpoint (its averaged
// weights when the run had train.ema_decay), onto the CPU in eval mode.
// Errors name the file and the problem.
absl::StatusOr<LoadedModel> LoadModel(const std::string& path);

// The lexicon a decoder should use, from a command-line style spec: "none"
// (open vocabulary: nullptr), "model" (the model's training words), or a
// text file with one word per line.
absl::StatusOr<std::shared_ptr<const Lexicon>> ResolveLexicon(const std::string& spec,
                                                              const AcousticModel& model);

// The weights/buffers of `module` as LibTorch archive bytes, and back.
std::string SerializeModule(torch::nn::Module& module);
absl::Status DeserializeModule(const std::string& bytes, torch::nn::Module& module,
                               const std::string& source);

}  // namespace asr
