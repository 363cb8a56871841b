// Audio input: decoding files and in-memory buffers with libsndfile (WAV
// PCM 8/16/24/32-bit and float, FLAC, OGG/Vorbis, OGG/Opus where the
// installed libsndfile has it, and anything else it reads), headerless raw
// PCM (s16le, f32le), and down-mixing to mono. Every failure is an error
// status naming the source and the problem; nothing here aborts, and no
// allocation exceeds what max_seconds allows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr {

// Mono audio: samples in [-1, 1] (float files may exceed it) at sample_rate Hz.
struct Audio {
  std::vector<float> samples;
  int sample_rate = 0;

  double duration_seconds() const {
    return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

struct DecodeOptions {
  // -1: average all channels; otherwise keep this 0-based channel.
  int channel = -1;
  // Longer audio is rejected (before it is read), seconds.
  double max_seconds = 3600.0;
  // Accepted sample rates, Hz.
  int min_sample_rate = 1000;
  int max_sample_rate = 384000;
};

// Headerless sample formats: 16-bit and float PCM, and G.711 mu-law and
// A-law (8-bit telephony, usually at 8000 Hz).
enum class RawEncoding { kS16le, kF32le, kMulaw, kAlaw };
// "s16le", "f32le", "mulaw", "alaw".
bool ParseRawEncoding(const std::string& name, RawEncoding* encoding);

struct RawFormat {
  RawEncoding encoding = RawEncoding::kS16le;
  int sample_rate = 16000;  // Hz
  int channels = 1;         // interleaved
};

// Decodes a file with libsndfile.
absl::StatusOr<Audio> DecodeAudioFile(const std::string& path, const DecodeOptions& opts = {});

// Decodes an in-memory file (any container libsndfile reads) through
// sf_open_virtual. `name` only labels error messages.
absl::StatusOr<Audio> DecodeAudioBuffer(const void* data, size_t size, const std::string& name,
                                        const DecodeOptions& opts = {});

// Decodes headerless PCM; the byte count must be a whole number of frames.
absl::StatusOr<Audio> DecodeRawPcm(const void* data, size_t size, const RawFormat& format,
                                   const std::string& name, const DecodeOptions& opts = {});

// Interleaved frames of `channels` channels -> mono, per opts.channel.
// Fails if opts.channel is out of range.
absl::StatusOr<std::vector<float>> DownmixToMono(const float* interleaved, size_t frames, int channels,
                                                 const DecodeOptions& opts, const std::string& name);

// Duration in seconds from the file's header (no decoding), or an error.
absl::StatusOr<double> ProbeAudioDuration(const std::string& path);

// Major formats (e.g. "WAV", "FLAC", "OGG/Vorbis", "OGG/Opus") that the
// linked libsndfile can write and read.
std::vector<std::string> SupportedContainerFormats();
bool LibsndfileSupportsOpus();

}  // namespace asr
