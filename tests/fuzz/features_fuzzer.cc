// libFuzzer target over the in-memory decoder and the feature path, as the
// server would run them on untrusted bytes:
//   byte 0 selects libsndfile (sf_open_virtual) or raw PCM, and the chunk
//   size used to stream the decoded audio through StreamingFeaturePipeline.
// Built and run by scripts/fuzz.sh (clang, ASan + UBSan).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "features/audio.h"
#include "features/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t mode = data[0];
  const size_t chunk = 1 + static_cast<size_t>(data[1]) * 37;
  data += 4;
  size -= 4;
  asr::DecodeOptions dec;
  dec.max_seconds = 20;  // keeps each input cheap; longer audio must be rejected cleanly
  absl::StatusOr<asr::Audio> audio;
  if (mode % 3 == 0) {
    asr::RawFormat raw;
    raw.encoding = (mode & 8) ? asr::RawEncoding::kF32le : asr::RawEncoding::kS16le;
    raw.channels = 1 + (mode >> 4) % 4;
    raw.sample_rate = (mode & 4) ? 8000 : 16000;
    audio = asr::DecodeRawPcm(data, size, raw, "fuzz", dec);
  } else {
    audio = asr::DecodeAudioBuffer(data, size, "fuzz", dec);
  }
  if (!audio.ok()) return 0;
  asr::FeatureOptions opts;
  if (mode & 32) opts.type = asr::FeatureType::kMfcc;
  auto batch = asr::ExtractFeatures(*audio, opts);
  auto stream = asr::StreamingFeaturePipeline::Create(audio->sample_rate, opts);
  if (!stream.ok()) return 0;
  for (size_t i = 0; i < audio->samples.size(); i += chunk) {
    (void)(*stream)->AcceptAudio(audio->samples.data() + i, std::min(chunk, audio->samples.size() - i));
  }
  (void)(*stream)->InputFinished();
  // Without resampling, streamed frames must equal batch frames exactly.
  if (batch.ok() && audio->sample_rate == 16000) {
    if ((*stream)->NumFramesReady() != batch->rows) __builtin_trap();
    std::vector<float> frame(static_cast<size_t>(batch->cols));
    for (int64_t r = 0; r < batch->rows; ++r) {
      if (!(*stream)->CopyFrame(r, frame.data()).ok()) __builtin_trap();
      if (std::memcmp(frame.data(), batch->row(r), frame.size() * sizeof(float)) != 0) __builtin_trap();
    }
  }
  return 0;
}
