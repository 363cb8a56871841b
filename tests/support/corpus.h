// Test support: the tiny synthesized corpus (scripts/make-corpus.sh --size
// tiny), made once per test process in a temporary directory, and small
// training configs that run in seconds.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace asr::testing {

// Directory holding train.jsonl, dev.jsonl, test.jsonl and audio/. Aborts
// the test (fatal failure) if the corpus cannot be made.
const std::string& TinyCorpus();

// asr-train JSON config for a fast tiny run (no manifest paths).
nlohmann::json TinyTrainingConfig(int max_steps);

// Writes `j` to a new temporary file; returns its path.
std::string WriteJson(const nlohmann::json& j);

}  // namespace asr::testing
