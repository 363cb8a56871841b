#include "model/recognizer/recognizer_model.h"

#include "model/model_io.h"

namespace asr {

std::shared_ptr<const RecognizerModel> RecognizerModel::Create(AcousticModel network, std::string label) {
  auto m = std::make_shared<RecognizerModel>();
  m->label = std::move(label);
  m->network = std::move(network);
  m->network->eval();
  if (!m->network->config().lexicon.empty()) {
    auto lexicon = ResolveLexicon("model", m->network);
    if (lexicon.ok()) m->lexicon = *lexicon;
  }
  return m;
}

absl::StatusOr<std::shared_ptr<const RecognizerModel>> RecognizerModel::Load(const std::string& path,
                                                                             std::string label) {
  auto loaded = LoadModel(path);
  if (!loaded.ok()) return loaded.status();
  return Create(std::move(loaded->model), std::move(label));
}

}  // namespace asr
