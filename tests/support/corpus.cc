#include "tests/support/corpus.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.h"

namespace asr::testing {

const std::string& TinyCorpus() {
  static const std::string dir = [] {
    const std::string d = MakeTempDir("asr-corpus");
    const auto r =
        RunProcess({std::string(ASR_SOURCE_DIR) + "/scripts/make-corpus.sh", "--size", "tiny", d}, 600);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "make-corpus failed: " << r.err;
      return std::string();
    }
    return d;
  }();
  return dir;
}

nlohmann::json TinyTrainingConfig(int max_steps) {
  return {{"model", {{"hidden_size", 48}, {"num_layers", 2}}},
          {"data", {{"max_batch_frames", 3000}, {"max_batch_utterances", 16}, {"spec_augment", false}}},
          {"optimizer", {{"lr", 0.003}}},
          {"schedule", {{"warmup_steps", 10}}},
          {"train",
           {{"epochs", 50},
            {"max_steps", max_steps},
            {"checkpoint_every_steps", 5},
            {"log_every_steps", 1},
            {"keep_last_checkpoints", 3}}}};
}

std::string WriteJson(const nlohmann::json& j) {
  const std::string path = MakeTempDir("asr-json") + "/config.json";
  std::ofstream(path) << j.dump(2);
  return path;
}

}  // namespace asr::testing
