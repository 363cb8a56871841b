// libsoxr resampling: whole-signal vs streamed (any chunking) and the
// frequency content and length of the result; speed perturbation.
#include "features/resample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/support/tolerance.h"

namespace asr {
namespace {

std::vector<float> Tone(double freq, int rate, double seconds) {
  std::vector<float> s(static_cast<size_t>(rate * seconds));
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * freq * i / rate));
  return s;
}

TEST(ResampleTest, ProducesTheSameToneAtTheNewRate) {
  for (int in_rate : {8000, 22050, 44100, 48000}) {
    const std::vector<float> in = Tone(440, in_rate, 1.0);
    auto out = Resample(in, in_rate, 16000);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_NEAR(static_cast<double>(out->size()), 16000, 1) << in_rate;
    // Away from the edges the output is the ideal 440 Hz tone at 16 kHz.
    // Delay is compensated by soxr (linear phase), so compare directly.
    const std::vector<float> ideal = Tone(440, 16000, 1.0);
    EXPECT_LT(testing::MaxAbsError(*out, ideal, 1000, out->size() - 1000), 1e-3) << in_rate;
  }
}

TEST(ResampleTest, StreamedOutputEqualsWholeSignalForAnyChunking) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 0.2f);
  std::vector<float> in(44100 * 2);
  for (float& v : in) v = g(rng);
  auto whole = Resample(in, 44100, 16000);
  ASSERT_TRUE(whole.ok());
  for (size_t max_chunk : {1u, 7u, 160u, 441u, 4410u, 100000u}) {
    auto s = ResampleStream::Create(44100, 16000);
    ASSERT_TRUE(s.ok());
    std::vector<float> out;
    std::uniform_int_distribution<size_t> len(1, max_chunk);
    for (size_t i = 0; i < in.size();) {
      const size_t n = std::min(len(rng), in.size() - i);
      ASSERT_TRUE((*s)->Process(in.data() + i, n, &out).ok());
      i += n;
    }
    ASSERT_TRUE((*s)->Flush(&out).ok());
    ASSERT_EQ(out.size(), whole->size()) << max_chunk;
    EXPECT_EQ(out, *whole) << "chunking up to " << max_chunk << " changed the samples";
  }
}

TEST(ResampleTest, EqualRatesPassThroughAndBadRatesAreErrors) {
  const std::vector<float> in = Tone(100, 16000, 0.1);
  auto same = Resample(in, 16000, 16000);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, in);
  EXPECT_FALSE(Resample(in, 0, 16000).ok());
  EXPECT_FALSE(Resample(in, 16000, -5).ok());
  auto s = ResampleStream::Create(8000, 16000);
  std::vector<float> out;
  ASSERT_TRUE((*s)->Flush(&out).ok());
  EXPECT_FALSE((*s)->Process(in.data(), in.size(), &out).ok());
}

TEST(ResampleTest, SpeedPerturbationChangesDurationAndPitch) {
  const std::vector<float> in = Tone(500, 16000, 1.0);
  for (double factor : {0.9, 1.1}) {
    auto out = SpeedPerturb(in, 16000, factor);
    ASSERT_TRUE(out.ok());
    EXPECT_NEAR(static_cast<double>(out->size()), 16000 / factor, 2) << factor;
    // Count zero crossings: the tone is now at 500 * factor Hz.
    int crossings = 0;
    for (size_t i = 1; i < out->size(); ++i) crossings += ((*out)[i - 1] < 0) != ((*out)[i] < 0);
    const double seconds = out->size() / 16000.0;
    EXPECT_NEAR(crossings / (2 * seconds), 500 * factor, 5) << factor;
  }
  EXPECT_EQ(*SpeedPerturb(in, 16000, 1.0), in);
  EXPECT_FALSE(SpeedPerturb(in, 16000, 3.0).ok());
}

}  // namespace
}  // namespace asr
