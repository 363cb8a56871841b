// The command-line form of a boosted phrase, shared by asr-client,
// asr-transcribe and asr-eval: "TEXT" or "TEXT:BOOST". Header-only.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asr {

// "new york:4" -> {"new york", 4}; "kelvin" -> {"kelvin", 0} (0 = the
// server's default boost). INVALID_ARGUMENT when what follows the last ':'
// is not a number; range checks are the recognizer's.
inline absl::StatusOr<std::pair<std::string, float>> ParsePhraseArg(const std::string& arg) {
  const size_t colon = arg.rfind(':');
  if (colon == std::string::npos) return std::make_pair(arg, 0.0f);
  float boost = 0;
  if (!absl::SimpleAtof(arg.substr(colon + 1), &boost)) {
    return absl::InvalidArgumentError(
        absl::StrCat("phrase '", arg, "': the boost after ':' is not a number (TEXT or TEXT:BOOST)"));
  }
  return std::make_pair(arg.substr(0, colon), boost);
}

}  // namespace asr
