// Recognition as calls, with no transport: DecodeStreams advances live
// streams (RecognitionStream) in batched model steps; Recognize runs a whole
// recording offline. The streaming and offline paths share the feature
// pipeline, the model and the incremental CTC decoder, so a streamed file
// gives the offline transcript.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/audio.h"
#include "model/recognizer/recognition_observer.h"
#include "model/recognizer/recognition_options.h"
#include "model/recognizer/recognition_result.h"
#include "model/recognizer/recognition_stream.h"
#include "model/recognizer/recognizer_model.h"

namespace asr {

// Receives a stream's new results as soon as DecodeStreams has settled it:
// the stream's index in the `streams` given, its results (taken, as by
// TakeResults), and whether they end with the stream's last result.
using SettledCallback = std::function<void(size_t index, std::vector<RecognitionResult> results, bool last)>;

// One decode step for every stream given: each with queued input advances
// by one model output frame, in one batched LN-LSTM step per model (a
// stream's first step warms its state up with burn-in); then each settles
// (endpoint finals, the final result of a finished input). With `settled`,
// each stream's results are handed to it at once, so a caller can send
// them while later streams are still being settled; without, they wait in
// each stream for TakeResults(). `observer` (may be null) sees each batched
// step. No two callers may decode the same stream at once. Exceptions from
// LibTorch propagate (a stream not yet settled is in an unspecified state).
void DecodeStreams(const std::vector<RecognitionStream*>& streams, RecognitionObserver* observer = nullptr,
                   const SettledCallback& settled = {});

// A whole recording: bytes in `format` (raw PCM, or with kUnspecified any
// container libsndfile reads), at most `max_seconds` long (OUT_OF_RANGE
// beyond). Split into utterances where `endpoint` would end a stream's.
// Errors: INVALID_ARGUMENT for bad options or audio, naming the field or
// source.
absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const std::string& bytes,
                                        const AudioFormat& format, const DecodingOptions& decoding,
                                        double max_seconds = 3600, const EndpointOptions& endpoint = {});
// The same for decoded audio (any rate and channel count features/ reads).
absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const Audio& audio,
                                        const DecodingOptions& decoding,
                                        const EndpointOptions& endpoint = {});
// The same with the decoder spelled out (any beam width, any lexicon), up
// to `alternatives` hypotheses (>= 1).
absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const Audio& audio,
                                        const CtcDecoderOptions& decoder, int alternatives = 1,
                                        const EndpointOptions& endpoint = {});

}  // namespace asr
