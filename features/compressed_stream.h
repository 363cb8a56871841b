// Decoding a compressed audio stream (FLAC, Ogg/Opus) as its bytes arrive:
// each byte is decoded once and dropped once decoded, so time and memory
// stay linear in the stream's length (re-decoding the whole buffer on each
// arrival is quadratic). FLAC through libFLAC's stream decoder, Ogg/Opus
// through libopusfile (an unseekable source). Neither library can wait for
// bytes that have not arrived, so a frame (FLAC) or page (Ogg) is handed to
// it only once it is complete in the buffer: the framing is parsed here.
//
//   auto d = CompressedStreamDecoder::Create(CompressedCodec::kFlac, "audio stream");
//   (*d)->Accept(bytes, n, &samples);   // appends the new mono samples
//   (*d)->Finish(&samples);             // the rest; errors if not a whole stream
//
// Not thread-safe: one caller at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr {

enum class CompressedCodec { kFlac, kOggOpus };

class CompressedStreamDecoder {
 public:
  // `name` labels error messages. `max_seconds` bounds the decoded audio:
  // beyond it Accept/Finish return OUT_OF_RANGE. Opus decodes at
  // `opus_rate` Hz, one of 8000, 12000, 16000, 24000 or 48000 (libopus
  // decodes at each natively; pick the consumer's rate to spare a
  // resampler); INVALID_ARGUMENT otherwise.
  static absl::StatusOr<std::unique_ptr<CompressedStreamDecoder>> Create(CompressedCodec codec,
                                                                         std::string name,
                                                                         double max_seconds = 3600,
                                                                         int opus_rate = 48000);
  // The Opus rate to decode at for a consumer at `rate` Hz: `rate` if
  // libopus decodes at it, else 48000.
  static int OpusRateFor(int rate);
  virtual ~CompressedStreamDecoder() = default;

  // Appends `n` bytes; decodes every complete frame or page and appends
  // its samples, down-mixed to mono, to *mono. INVALID_ARGUMENT for bytes
  // that cannot be this codec, naming `name`.
  virtual absl::Status Accept(const char* data, size_t n, std::vector<float>* mono) = 0;
  // The input ended: decodes what is left. INVALID_ARGUMENT if the bytes
  // were not a whole stream (no header, truncated).
  virtual absl::Status Finish(std::vector<float>* mono) = 0;
  // The stream's sample rate, Hz (opus_rate for Opus); 0 until its header
  // has been decoded.
  virtual int sample_rate() const = 0;
  // Bytes received and not yet decoded (what the decoder holds).
  virtual size_t buffered_bytes() const = 0;
};

}  // namespace asr
