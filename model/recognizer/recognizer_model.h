// A model ready to recognize with: the network and the lexicon it records,
// loaded once and shared by every stream and request that uses it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/acoustic_model.h"
#include "model/ctc.h"

namespace asr {

// Immutable after construction; share it through shared_ptr across streams
// and threads. The network is in eval mode on the CPU; its forward() and
// Step() do not modify it and may run on several threads at once.
struct RecognizerModel {
  std::string label;  // e.g. "digits:3", echoed in results and errors
  AcousticModel network{nullptr};
  std::shared_ptr<const Lexicon>
      lexicon;  // the training transcripts' words; null when the model records none

  bool streaming() const { return !network->config().bidirectional; }
  double output_frame_seconds() const { return network->config().output_frame_seconds(); }

  // Wraps a loaded network (model_io.h's LoadModel) and resolves its lexicon.
  static std::shared_ptr<const RecognizerModel> Create(AcousticModel network, std::string label);
  // Loads a model file or checkpoint; errors name the file.
  static absl::StatusOr<std::shared_ptr<const RecognizerModel>> Load(const std::string& path,
                                                                     std::string label);
};

}  // namespace asr
