// libFuzzer target over the streaming request path as the server runs it on
// untrusted input, below the gRPC reactor: a config (every StreamOptions
// field, in and out of range) and then a sequence of operations on a
// RecognitionStream of a small random model: audio chunks of any size and
// content in the config's encoding (LINEAR16, FLOAT32, FLAC, Ogg/Opus),
// batched decode steps, forced utterance ends, result takes, end of input.
// Invariants checked (a trap is a finding): results never go back in
// processed audio, utterance indices never decrease, and once the input has
// ended the stream finishes within the decodes its queued inputs need.
// Built and run by scripts/fuzz.sh (clang, ASan + UBSan).
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "model/recognizer/recognition_stream.h"
#include "model/recognizer/recognizer.h"
#include "tests/model/recognizer/test_model.h"

namespace {

asr::StreamOptions FuzzedOptions(FuzzedDataProvider& in) {
  asr::StreamOptions o;
  o.audio.encoding = static_cast<asr::AudioEncoding>(in.ConsumeIntegralInRange<int>(0, 6));
  o.audio.sample_rate_hertz =
      in.ConsumeBool() ? in.PickValueInArray({8000, 16000, 44100, 48000}) : in.ConsumeIntegral<int>();
  o.audio.audio_channel_count = in.ConsumeIntegralInRange<int>(-1, 3);
  o.decoding.max_alternatives = in.ConsumeIntegralInRange<int>(-1, 11);
  o.decoding.word_time_offsets = in.ConsumeBool();
  o.decoding.lexicon_constrained = in.ConsumeBool();
  o.interim_results = in.ConsumeBool();
  o.endpoint.silence_seconds = in.PickValueInArray({-1.0, 0.0, 0.05, 0.8, 61.0, std::nan("")});
  o.endpoint.single_utterance = in.ConsumeBool();
  return o;
}

// Results must move forward: processed audio and utterance index never decrease.
void Check(const std::vector<asr::RecognitionResult>& results, double* processed, int64_t* utterance) {
  for (const asr::RecognitionResult& r : results) {
    if (r.processed_seconds + 1e-9 < *processed || r.utterance_index < *utterance) __builtin_trap();
    if (r.alternatives.empty()) __builtin_trap();
    *processed = r.processed_seconds;
    *utterance = r.utterance_index;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const asr::RecognizerModel> model = asr::testing::RandomModel(1, "fuzz:1");
  FuzzedDataProvider in(data, size);
  asr::StreamLimits limits;
  limits.max_stream_seconds = 30;
  limits.max_chunk_bytes = 1 << 16;
  limits.max_backlog_seconds = 10;
  auto stream = asr::RecognitionStream::Create(model, FuzzedOptions(in), limits);
  if (!stream.ok()) return 0;
  asr::RecognitionStream& s = **stream;
  double processed = 0;
  int64_t utterance = 0;
  bool ended = false;
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
      case 1:
      case 2:  // audio, as one gRPC message
        if (!s.AcceptAudio(in.ConsumeRandomLengthString(1 << 12)).ok()) return 0;  // the call would end
        break;
      case 3:
      case 4:
        if (s.IsReady()) asr::DecodeStreams({&s});
        break;
      case 5:
        s.EndUtterance();
        break;
      case 6:
        Check(s.TakeResults(), &processed, &utterance);
        break;
      case 7:
        if (!s.InputFinished().ok()) return 0;
        ended = true;
        break;
    }
  }
  if (!ended && !s.InputFinished().ok()) return 0;
  // Every queued input takes one decode, plus one to settle.
  for (size_t n = s.PendingInputs() + 2; n > 0 && s.IsReady(); --n) asr::DecodeStreams({&s});
  Check(s.TakeResults(), &processed, &utterance);
  if (!s.IsFinished()) __builtin_trap();
  return 0;
}
