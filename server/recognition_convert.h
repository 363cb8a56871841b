// asr.v1 recognition messages <-> the recognizer library's types. Options
// from a RecognitionConfig are validated here, and their errors name the
// proto field ("config.sample_rate_hertz: ..."); results become responses.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/v1/recognition.pb.h"
#include "model/recognizer/recognition_options.h"
#include "model/recognizer/recognition_result.h"
#include "server/model_registry.h"

namespace asr::server {

// The error of a config field: the library names the field, the client
// knows it under "config.".
absl::Status ConfigError(const absl::Status& status);

// Longest request_id echoed in responses, bytes.
inline constexpr size_t kMaxRequestIdBytes = 256;

// A RecognitionConfig checked and resolved: the model version that serves
// the call and the options it runs with.
struct ResolvedConfig {
  std::shared_ptr<const RecognizerModel> model;
  StreamOptions options;  // unary calls use its audio and decoding parts
};

// The one validation of a RecognitionConfig, for Recognize (`stream`
// false: an unspecified encoding means "read the container") and
// StreamingRecognize alike. Errors name "config.<field>": INVALID_ARGUMENT
// for a bad or oversized field or an unknown model, FAILED_PRECONDITION for
// a lexicon the model lacks. Thread-safe (as `models` is).
absl::StatusOr<ResolvedConfig> ResolveConfig(const asr::v1::RecognitionConfig& config, ModelRegistry* models,
                                             bool stream);

// One stream result as a response of `model_label`, echoing the config's
// request_id; word timings only if the config asked for them.
asr::v1::StreamingRecognizeResponse ToResponse(const RecognitionResult& result,
                                               const asr::v1::RecognitionConfig& config,
                                               const std::string& model_label);
asr::v1::RecognizeResponse ToResponse(const OfflineResult& result, const asr::v1::RecognitionConfig& config,
                                      const std::string& model_label);

}  // namespace asr::server
