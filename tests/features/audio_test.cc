// Decoding: every supported container round-trips through a file written by
// libsndfile, from a path and from memory; raw PCM; down-mixing; and every
// kind of bad input is an error naming the source, never a crash.
#include "features/audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "tests/support/process.h"
#include "tests/support/tolerance.h"

namespace asr {
namespace {

// Interleaved test signal: channel c is a sine at 440 * (c + 1) Hz, amplitude 0.5.
std::vector<float> Sines(int frames, int channels, int rate) {
  std::vector<float> s(static_cast<size_t>(frames * channels));
  for (int i = 0; i < frames; ++i) {
    for (int c = 0; c < channels; ++c) {
      s[static_cast<size_t>(i * channels + c)] =
          0.5f * static_cast<float>(std::sin(2 * M_PI * 440.0 * (c + 1) * i / rate));
    }
  }
  return s;
}

std::string Write(const std::string& name, int format, const std::vector<float>& interleaved, int channels,
                  int rate) {
  const std::string path = testing::MakeTempDir() + "/" + name;
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  EXPECT_NE(f, nullptr) << name << ": " << sf_strerror(nullptr);
  if (f == nullptr) return path;
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
  return path;
}

// Amplitude of `freq` in `x` (Goertzel), for lossy codecs.
double ToneAmplitude(const std::vector<float>& x, double freq, int rate) {
  double re = 0, im = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    re += x[i] * std::cos(2 * M_PI * freq * i / rate);
    im -= x[i] * std::sin(2 * M_PI * freq * i / rate);
  }
  return 2 * std::sqrt(re * re + im * im) / x.size();
}

struct Case {
  const char* name;
  int format;
  double max_error;  // per-sample for lossless; < 0 means lossy
  int rate;
};

TEST(AudioTest, EveryFormatRoundTripsFromFileAndFromMemory) {
  std::vector<Case> cases = {
      {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1.0 / 128, 16000},
      {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1.0 / 32768, 16000},
      {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1.0 / 8388608, 22050},
      {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1e-7, 44100},
      {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, 8000},
      {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1.0 / 32768, 16000},
      {"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1.0 / 8388608, 48000},
      {"vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, -1, 16000},
  };
  if (LibsndfileSupportsOpus()) cases.push_back({"opus.ogg", SF_FORMAT_OGG | SF_FORMAT_OPUS, -1, 48000});
  for (const Case& c : cases) {
    const std::vector<float> src = Sines(c.rate, 1, c.rate);  // 1 s
    const std::string path = Write(c.name, c.format, src, 1, c.rate);
    auto from_file = DecodeAudioFile(path);
    ASSERT_TRUE(from_file.ok()) << c.name << ": " << from_file.status();
    const std::string bytes = testing::ReadFileOrEmpty(path);
    auto from_mem = DecodeAudioBuffer(bytes.data(), bytes.size(), c.name);
    ASSERT_TRUE(from_mem.ok()) << c.name << ": " << from_mem.status();
    EXPECT_EQ(from_file->samples, from_mem->samples) << c.name;
    EXPECT_EQ(from_file->sample_rate, c.rate) << c.name;
    if (c.max_error >= 0) {
      ASSERT_EQ(from_file->samples.size(), src.size()) << c.name;
      EXPECT_TRUE(testing::AllClose(from_file->samples, src, c.max_error)) << c.name;
    } else {
      EXPECT_NEAR(from_file->duration_seconds(), 1.0, 0.05) << c.name;
      EXPECT_NEAR(ToneAmplitude(from_file->samples, 440, c.rate), 0.5, 0.05) << c.name;
    }
  }
}

TEST(AudioTest, ReportsOpusSupportOfTheInstalledLibsndfile) {
  const auto formats = SupportedContainerFormats();
  EXPECT_NE(std::find(formats.begin(), formats.end(), "WAV"), formats.end());
  EXPECT_NE(std::find(formats.begin(), formats.end(), "FLAC"), formats.end());
  EXPECT_NE(std::find(formats.begin(), formats.end(), "OGG/Vorbis"), formats.end());
  // Debian 12's libsndfile 1.2.0 is built with Opus.
  EXPECT_TRUE(LibsndfileSupportsOpus());
}

TEST(AudioTest, DownmixesByAveragingOrByChoosingAChannel) {
  const std::vector<float> src = Sines(1600, 3, 16000);
  const std::string path = Write("three.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, src, 3, 16000);
  auto avg = DecodeAudioFile(path);
  ASSERT_TRUE(avg.ok());
  ASSERT_EQ(avg->samples.size(), 1600u);
  for (size_t i = 0; i < 1600; ++i) {
    EXPECT_NEAR(avg->samples[i], (src[3 * i] + src[3 * i + 1] + src[3 * i + 2]) / 3, 1e-6);
  }
  DecodeOptions second;
  second.channel = 1;
  auto ch1 = DecodeAudioFile(path, second);
  ASSERT_TRUE(ch1.ok());
  for (size_t i = 0; i < 1600; ++i) EXPECT_EQ(ch1->samples[i], src[3 * i + 1]);
  DecodeOptions bad;
  bad.channel = 3;
  auto r = DecodeAudioFile(path, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("channel 3"), std::string::npos) << r.status();
}

TEST(AudioTest, DecodesRawPcm) {
  const int16_t s16[] = {0, 16384, -32768, 32767};
  RawFormat f;
  auto a = DecodeRawPcm(s16, sizeof(s16), f, "s16");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->samples, (std::vector<float>{0.f, 0.5f, -1.f, 32767.f / 32768}));
  const float f32[] = {0.25f, -0.5f, 1.f, 0.f};  // two stereo frames
  f.encoding = RawEncoding::kF32le;
  f.channels = 2;
  f.sample_rate = 8000;
  a = DecodeRawPcm(f32, sizeof(f32), f, "f32");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->samples, (std::vector<float>{-0.125f, 0.5f}));
  EXPECT_EQ(a->sample_rate, 8000);
}

// G.711 against the ITU-T recommendation's own values: mu-law 0xFF and 0x7F
// are +0 and -0, 0x80 and 0x00 the largest magnitudes (32124); A-law 0xD5
// and 0x55 the smallest (+-8), 0xAA and 0x2A the largest (+-32256). One byte
// a sample, so any byte count is whole.
TEST(AudioTest, DecodesG711MulawAndAlawAsTheRecommendationSays) {
  RawFormat f;
  f.sample_rate = 8000;
  f.encoding = RawEncoding::kMulaw;
  const unsigned char mulaw[] = {0xFF, 0x7F, 0x80, 0x00, 0xEF};
  auto a = DecodeRawPcm(mulaw, sizeof(mulaw), f, "mulaw");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->samples, (std::vector<float>{0.f, 0.f, 32124.f / 32768, -32124.f / 32768, 132.f / 32768}));
  f.encoding = RawEncoding::kAlaw;
  const unsigned char alaw[] = {0xD5, 0x55, 0xAA, 0x2A};
  a = DecodeRawPcm(alaw, sizeof(alaw), f, "alaw");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->samples, (std::vector<float>{8.f / 32768, -8.f / 32768, 32256.f / 32768, -32256.f / 32768}));
  RawEncoding parsed;
  EXPECT_TRUE(ParseRawEncoding("mulaw", &parsed) && parsed == RawEncoding::kMulaw);
  EXPECT_TRUE(ParseRawEncoding("alaw", &parsed) && parsed == RawEncoding::kAlaw);
}

// A canonical 44-byte WAV header for 16-bit PCM.
std::string WavHeader(int channels, int rate, uint32_t data_bytes) {
  std::string h = "RIFF";
  auto u32 = [&h](uint32_t v) {
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto u16 = [&h](uint16_t v) {
    h.push_back(static_cast<char>(v));
    h.push_back(static_cast<char>(v >> 8));
  };
  u32(36 + data_bytes);
  h += "WAVEfmt ";
  u32(16);
  u16(1);
  u16(static_cast<uint16_t>(channels));
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate * channels * 2));
  u16(static_cast<uint16_t>(channels * 2));
  u16(16);
  h += "data";
  u32(data_bytes);
  return h;
}

// Rejected with `code`, a message naming the source and containing `says` (if given).
void ExpectRejected(const std::string& bytes, const std::string& what, const DecodeOptions& opts = {},
                    const std::string& says = "",
                    absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  auto r = DecodeAudioBuffer(bytes.data(), bytes.size(), "upload.wav", opts);
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.status().code(), code) << what;
  EXPECT_NE(r.status().message().find("upload.wav"), std::string::npos) << what << ": " << r.status();
  EXPECT_NE(r.status().message().find(says), std::string::npos) << what << ": " << r.status();
}

TEST(AudioTest, BadInputIsAClearErrorNeverACrash) {
  const std::string pcm(3200, '\x01');
  const std::string good = WavHeader(1, 16000, 3200) + pcm;
  ASSERT_TRUE(DecodeAudioBuffer(good.data(), good.size(), "ok").ok());

  ExpectRejected(good.substr(0, 20), "truncated header");
  ExpectRejected(std::string(1000, '\x7f'), "garbage");
  ExpectRejected(WavHeader(0, 16000, 3200) + pcm, "zero channels", {}, "WAV header: 0 channels");
  ExpectRejected(WavHeader(1, 0, 3200) + pcm, "zero sample rate", {}, "WAV header: sample rate 0");
  ExpectRejected(WavHeader(1, 50000000, 3200) + pcm, "absurd sample rate");
  ExpectRejected(WavHeader(1, 16000, 0), "empty audio");
  DecodeOptions short_max;
  short_max.max_seconds = 0.05;  // the file has 0.1 s
  ExpectRejected(good, "too long", short_max, "exceeds the maximum of 0.05 s", absl::StatusCode::kOutOfRange);
  auto empty = DecodeAudioBuffer("", 0, "upload.wav");
  EXPECT_FALSE(empty.ok());

  std::vector<float> nan_audio = Sines(1000, 1, 16000);
  nan_audio[500] = std::nanf("");
  const std::string nan_path = Write("nan.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, nan_audio, 1, 16000);
  auto nan = DecodeAudioFile(nan_path);
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.status().message().find("NaN"), std::string::npos) << nan.status();
  nan_audio[500] = INFINITY;
  const std::string inf_path = Write("inf.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, nan_audio, 1, 16000);
  EXPECT_FALSE(DecodeAudioFile(inf_path).ok());

  auto missing = DecodeAudioFile("/nonexistent/a.wav");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/a.wav"), std::string::npos);
}

TEST(AudioTest, BadRawPcmIsAClearError) {
  RawFormat f;
  const char odd[3] = {1, 2, 3};
  auto r = DecodeRawPcm(odd, 3, f, "chunk");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3 bytes"), std::string::npos) << r.status();
  f.sample_rate = 0;
  EXPECT_FALSE(DecodeRawPcm(odd, 2, f, "chunk").ok());
  f = RawFormat();
  f.encoding = RawEncoding::kF32le;
  const float inf[1] = {INFINITY};
  EXPECT_FALSE(DecodeRawPcm(inf, 4, f, "chunk").ok());
  EXPECT_FALSE(DecodeRawPcm(inf, 0, f, "chunk").ok());
}

}  // namespace
}  // namespace asr
