// asr.v1 recognition messages <-> the recognizer library's types. Options
// from a RecognitionConfig are validated here, and their errors name the
// proto field ("config.sample_rate_hertz: ..."); results become responses.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "asr/v1/recognition.pb.h"
#include "model/recognizer/recognition_options.h"
#include "model/recognizer/recognition_result.h"

namespace asr::server {

// The error of a config field: the library names the field, the client
// knows it under "config.".
absl::Status ConfigError(const absl::Status& status);

// Validated; errors name "config.<field>".
absl::StatusOr<StreamOptions> ToStreamOptions(const asr::v1::RecognitionConfig& config);
absl::StatusOr<AudioFormat> ToAudioFormat(const asr::v1::RecognitionConfig& config, bool stream);
absl::StatusOr<DecodingOptions> ToDecodingOptions(const asr::v1::RecognitionConfig& config);

// One stream result as a response of `model_label`, echoing the config's
// request_id; word timings only if the config asked for them.
asr::v1::StreamingRecognizeResponse ToResponse(const RecognitionResult& result,
                                               const asr::v1::RecognitionConfig& config,
                                               const std::string& model_label);
asr::v1::RecognizeResponse ToResponse(const OfflineResult& result, const asr::v1::RecognitionConfig& config,
                                      const std::string& model_label);

}  // namespace asr::server
