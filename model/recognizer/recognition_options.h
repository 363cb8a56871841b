// What a caller asks of one recognition: the audio's format, how to decode
// (alternatives, word times, lexicon), and for streams the results wanted
// (interim results, endpointing). Transport-neutral: the server fills these
// from asr.v1.RecognitionConfig, asr-transcribe from its flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "features/audio.h"
#include "model/context_graph.h"
#include "model/ctc.h"
#include "model/recognizer/recognizer_model.h"

namespace asr {

enum class AudioEncoding {
  kUnspecified,  // streams: an error; offline: any container libsndfile reads
  kLinear16,     // headerless signed 16-bit little-endian PCM, interleaved channels
  kFloat32,      // headerless 32-bit little-endian float PCM, interleaved channels
  kMulaw,        // headerless G.711 mu-law, one byte a sample (telephony, usually 8000 Hz)
  kAlaw,         // headerless G.711 A-law, likewise
  kFlac,         // a FLAC stream
  kOggOpus,      // an Ogg/Opus stream (where the linked libsndfile supports Opus)
};

struct AudioFormat {
  AudioEncoding encoding = AudioEncoding::kUnspecified;
  int sample_rate_hertz = 0;    // kLinear16/kFloat32 only, in [1000, 384000]; containers carry their own
  int audio_channel_count = 0;  // kLinear16/kFloat32 only, in [0, 32]; 0 = 1; channels are averaged

  bool raw() const {
    return encoding == AudioEncoding::kLinear16 || encoding == AudioEncoding::kFloat32 ||
           encoding == AudioEncoding::kMulaw || encoding == AudioEncoding::kAlaw;
  }
  // The headerless PCM layout of a raw() format.
  RawFormat raw_format() const;
  // INVALID_ARGUMENT naming the field ("sample_rate_hertz: ..."); `stream`
  // requires an encoding, which offline recognition can infer.
  absl::Status Validate(bool stream) const;
};

struct DecodingOptions {
  int max_alternatives = 0;            // hypotheses per result, in [0, 10]; 0 = 1
  bool word_time_offsets = false;      // word start/end times and confidences
  bool lexicon_constrained = false;    // only words of the model's lexicon (beam search)
  std::vector<BoostedPhrase> phrases;  // boosted in beam search (model/context_graph.h)

  // INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;
  // The decoder for `model`: greedy, or beam search (width max(8, N)) for N
  // alternatives, a lexicon or phrases. FAILED_PRECONDITION
  // ("lexicon_constrained: ...") when a lexicon is asked of a model that
  // records none; INVALID_ARGUMENT ("phrases[i].text: ...") for a phrase the
  // model's units cannot spell.
  absl::StatusOr<CtcDecoderOptions> DecoderFor(const RecognizerModel& model) const;
};

struct EndpointOptions {
  // Trailing non-speech (blank model outputs) that ends an utterance with a
  // final result, seconds, at most 60; 0 = kDefaultSeconds; < 0 = no
  // endpointing: one final result when the input ends.
  double silence_seconds = 0;
  bool single_utterance = false;  // the stream ends after its first final result
  static constexpr double kDefaultSeconds = 0.8;
  double effective_seconds() const { return silence_seconds != 0 ? silence_seconds : kDefaultSeconds; }
  // INVALID_ARGUMENT naming the field ("endpoint.silence_seconds: ...").
  absl::Status Validate() const;
};

struct StreamOptions {
  AudioFormat audio;
  DecodingOptions decoding;
  bool interim_results = false;  // a non-final result each time a received chunk has been decoded
  bool speech_events = false;  // SpeechEvent results: speech begins (first non-blank frame), ends (endpoint)
  EndpointOptions endpoint;

  // INVALID_ARGUMENT naming the field (e.g. "endpoint.silence_seconds: ...").
  absl::Status Validate() const;
};

// What one stream may consume.
struct StreamLimits {
  double max_stream_seconds = 3600;   // audio per stream; beyond it OUT_OF_RANGE
  int64_t max_chunk_bytes = 1 << 20;  // per AcceptAudio call; compressed input may buffer 64 times this
  // Received audio not yet decoded, seconds, beyond which a producer should
  // stop accepting more (Backlogged()) until decoding catches up; it bounds
  // a stream's queued model inputs (~32 KB per second of audio for the
  // default 80-bin features stacked by 3) whatever the sender does.
  double max_backlog_seconds = 10;
};

}  // namespace asr
