// Streamed FLAC and Ogg/Opus decode as bytes arrive, to the samples a
// whole-file decode (libsndfile) gives, whatever sizes the bytes come in;
// what the decoder holds stays bounded; bad and truncated streams are
// errors naming the stream.
#include "features/compressed_stream.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <fstream>

#include "features/audio.h"
#include "tests/support/process.h"

namespace asr {
namespace {

// `seconds` of a two-tone stereo signal with some noise, encoded by
// libsndfile in `format` at `rate`; the file's bytes.
std::string Encode(int format, int rate, double seconds, int channels = 2) {
  const std::string path = testing::MakeTempDir() + "/audio";
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
  if (!f) return "";
  const int frames = static_cast<int>(seconds * rate);
  std::vector<float> x(static_cast<size_t>(frames * channels));
  uint32_t noise = 1;
  for (int i = 0; i < frames; ++i) {
    for (int c = 0; c < channels; ++c) {
      noise = noise * 1664525u + 1013904223u;
      x[static_cast<size_t>(i * channels + c)] =
          0.4f * static_cast<float>(std::sin(2 * M_PI * 300 * (c + 1) * i / rate)) +
          0.05f * (static_cast<float>(noise >> 8) / 16777216.f - 0.5f);
    }
  }
  sf_writef_float(f, x.data(), frames);
  sf_close(f);
  return testing::ReadFileOrEmpty(path);
}

// Decodes `bytes` fed in pieces of `piece` bytes; *max_held gets the most
// bytes the decoder held between calls.
absl::StatusOr<std::vector<float>> DecodeInPieces(CompressedCodec codec, const std::string& bytes,
                                                  size_t piece, size_t* max_held = nullptr) {
  auto d = CompressedStreamDecoder::Create(codec, "test stream");
  if (!d.ok()) return d.status();
  std::vector<float> out;
  for (size_t off = 0; off < bytes.size(); off += piece) {
    const size_t n = std::min(piece, bytes.size() - off);
    if (absl::Status st = (*d)->Accept(bytes.data() + off, n, &out); !st.ok()) return st;
    if (max_held) *max_held = std::max(*max_held, (*d)->buffered_bytes());
  }
  if (absl::Status st = (*d)->Finish(&out); !st.ok()) return st;
  return out;
}

struct Case {
  const char* name;
  CompressedCodec codec;
  int format;
  int rate;
  float tolerance;  // per sample, against libsndfile's decode of the whole file
};

class CompressedStreamTest : public ::testing::TestWithParam<Case> {};

TEST_P(CompressedStreamTest, PiecewiseDecodeEqualsWholeFileDecode) {
  const Case& c = GetParam();
  const std::string bytes = Encode(c.format, c.rate, 3.0);
  ASSERT_FALSE(bytes.empty());
  auto whole = DecodeAudioBuffer(bytes.data(), bytes.size(), "whole file");
  ASSERT_TRUE(whole.ok()) << whole.status();
  for (size_t piece : {size_t{1}, size_t{13}, size_t{4096}, bytes.size()}) {
    size_t held = 0;
    auto got = DecodeInPieces(c.codec, bytes, piece, &held);
    ASSERT_TRUE(got.ok()) << c.name << " piece " << piece << ": " << got.status();
    ASSERT_EQ(got->size(), whole->samples.size()) << c.name << " piece " << piece;
    float worst = 0;
    for (size_t i = 0; i < got->size(); ++i) worst = std::max(worst, std::abs((*got)[i] - whole->samples[i]));
    EXPECT_LE(worst, c.tolerance) << c.name << " piece " << piece;
    // Bytes are dropped once decoded: with small pieces the decoder never
    // holds more than a few frames or pages.
    if (piece < 8192) {
      EXPECT_LT(held, 70000u) << c.name << " piece " << piece;
    }
  }
}

TEST_P(CompressedStreamTest, DecodesAsBytesArrive) {
  const Case& c = GetParam();
  const std::string bytes = Encode(c.format, c.rate, 6.0);
  auto d = CompressedStreamDecoder::Create(c.codec, "test stream");
  ASSERT_TRUE(d.ok());
  std::vector<float> out;
  ASSERT_TRUE((*d)->Accept(bytes.data(), bytes.size() / 2, &out).ok());
  EXPECT_EQ((*d)->sample_rate(), c.codec == CompressedCodec::kOggOpus ? 48000 : c.rate);
  // Half of 6 s gives at least 1.5 s before the input ends (Ogg pages from
  // libsndfile hold ~1 s each).
  EXPECT_GT(out.size(), static_cast<size_t>(1.5 * (*d)->sample_rate())) << c.name;
}

TEST_P(CompressedStreamTest, TruncatedStreamIsAnErrorAtFinish) {
  const Case& c = GetParam();
  const std::string bytes = Encode(c.format, c.rate, 1.0);
  for (size_t keep : {size_t{3}, size_t{30}, bytes.size() - 100}) {
    auto got = DecodeInPieces(c.codec, bytes.substr(0, keep), 512);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.name << " keep " << keep;
    EXPECT_NE(got.status().message().find("'test stream'"), std::string::npos) << got.status();
  }
}

TEST_P(CompressedStreamTest, LongerThanTheLimitIsOutOfRange) {
  const Case& c = GetParam();
  const std::string bytes = Encode(c.format, c.rate, 3.0);
  auto d = CompressedStreamDecoder::Create(c.codec, "test stream", /*max_seconds=*/1.0);
  ASSERT_TRUE(d.ok());
  std::vector<float> out;
  absl::Status st = (*d)->Accept(bytes.data(), bytes.size(), &out);
  if (st.ok()) st = (*d)->Finish(&out);
  EXPECT_EQ(st.code(), absl::StatusCode::kOutOfRange) << st;
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, CompressedStreamTest,
    ::testing::Values(Case{"flac16", CompressedCodec::kFlac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 0.f},
                      Case{"flac24", CompressedCodec::kFlac, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 44100, 0.f},
                      Case{"opus", CompressedCodec::kOggOpus, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1e-6f}),
    [](const auto& info) { return std::string(info.param.name); });

// libopus decodes at 16 kHz natively: a third of the 48 kHz samples, the
// same signal (its energy within 5%), no resampler needed downstream.
TEST(CompressedStreamOpusTest, DecodesAtTheConsumersRate) {
  EXPECT_EQ(CompressedStreamDecoder::OpusRateFor(16000), 16000);
  EXPECT_EQ(CompressedStreamDecoder::OpusRateFor(22050), 48000);
  EXPECT_EQ(CompressedStreamDecoder::Create(CompressedCodec::kOggOpus, "s", 60, 22050).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string bytes = Encode(SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2.0, 1);
  auto full = DecodeInPieces(CompressedCodec::kOggOpus, bytes, 1000);
  auto d = CompressedStreamDecoder::Create(CompressedCodec::kOggOpus, "s", 60, 16000);
  ASSERT_TRUE(full.ok() && d.ok());
  std::vector<float> low;
  ASSERT_TRUE((*d)->Accept(bytes.data(), bytes.size(), &low).ok());
  ASSERT_TRUE((*d)->Finish(&low).ok());
  EXPECT_EQ((*d)->sample_rate(), 16000);
  EXPECT_NEAR(static_cast<double>(low.size()), full->size() / 3.0, 1.0);
  auto energy = [](const std::vector<float>& x) {
    double e = 0;
    for (float v : x) e += double{v} * v;
    return e / static_cast<double>(x.size());
  };
  EXPECT_NEAR(energy(low), energy(*full), 0.05 * energy(*full));
}

TEST(CompressedStreamErrorsTest, BytesOfAnotherKindAreInvalidArgumentNamingTheStream) {
  const std::string junk(5000, 'x');
  for (CompressedCodec codec : {CompressedCodec::kFlac, CompressedCodec::kOggOpus}) {
    auto got = DecodeInPieces(codec, junk, 100);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find("'test stream': not a"), std::string::npos) << got.status();
  }
  // A FLAC file is not Ogg/Opus, nor an Ogg/Vorbis one.
  auto flac =
      DecodeInPieces(CompressedCodec::kOggOpus, Encode(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 0.5), 100);
  EXPECT_EQ(flac.status().code(), absl::StatusCode::kInvalidArgument);
  auto vorbis =
      DecodeInPieces(CompressedCodec::kOggOpus, Encode(SF_FORMAT_OGG | SF_FORMAT_VORBIS, 16000, 0.5), 100);
  EXPECT_EQ(vorbis.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(vorbis.status().message().find("OpusHead"), std::string::npos) << vorbis.status();
}

TEST(CompressedStreamErrorsTest, CorruptFramesAreInvalidArgument) {
  std::string bytes = Encode(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 2.0);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i)
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  auto got = DecodeInPieces(CompressedCodec::kFlac, bytes, 1000);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("FLAC"), std::string::npos) << got.status();
}

}  // namespace
}  // namespace asr
