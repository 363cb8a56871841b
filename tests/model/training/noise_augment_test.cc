// Noise and reverberation simulated on log-mel features against the same
// degradations applied to the waveform and then passed through the
// (Kaldi-golden) fbank: noise mixed at an SNR, and a room impulse response
// (direct path plus exponentially decaying Gaussian noise, the standard
// late-reverberation model) convolved in. Plus the definitions the
// parameters carry: T60 is the time the tail's power takes to fall 60 dB,
// DRR the ratio of direct to tail energy, and the bank's colors have power
// densities 1, 1/f and 1/f^2.
#include "model/training/noise_augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "features/pipeline.h"
#include "tests/support/tolerance.h"

namespace asr {
namespace {

constexpr int kRate = 16000;

Matrix Fbank(const std::vector<float>& wave) {
  Audio a;
  a.sample_rate = kRate;
  a.samples = wave;
  auto f = ExtractFeatures(a, FeatureOptions());
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

NoiseAugmenter Augmenter(NoiseAugmentOptions o = {}) {
  auto a = NoiseAugmenter::Create(FeatureOptions().fbank, o);
  EXPECT_TRUE(a.ok()) << a.status();
  return std::move(*a);
}

// A stationary harmonic complex (150 Hz fundamental, 25 harmonics), 2 s.
std::vector<float> Harmonics(double amplitude) {
  std::vector<float> w(2 * kRate);
  for (size_t i = 0; i < w.size(); ++i) {
    double s = 0;
    for (int h = 1; h <= 25; ++h) s += std::sin(2 * M_PI * 150 * h * i / kRate + h);
    w[i] = static_cast<float>(amplitude * s / 25);
  }
  return w;
}

double Power(const std::vector<float>& w) {
  double p = 0;
  for (float v : w) p += static_cast<double>(v) * v;
  return p / w.size();
}

// Mean over frames [from, to) of each bin's log-mel value.
std::vector<double> BinMeans(const Matrix& m, int64_t from, int64_t to) {
  std::vector<double> mean(static_cast<size_t>(m.cols), 0.0);
  for (int64_t t = from; t < to; ++t) {
    for (int64_t b = 0; b < m.cols; ++b) mean[static_cast<size_t>(b)] += m.at(t, b) / (to - from);
  }
  return mean;
}

TEST(NoiseAugmentTest, WhiteNoiseOnFeaturesMatchesNoiseMixedIntoTheWaveform) {
  const std::vector<float> clean = Harmonics(0.1);
  const NoiseAugmenter aug = Augmenter();
  for (double snr_db : {0.0, 10.0, 20.0}) {
    // Reference: independent Gaussian white noise in the waveform at snr_db.
    std::mt19937 rng(7);
    std::normal_distribution<double> gauss(0.0, std::sqrt(Power(clean) / std::pow(10.0, snr_db / 10)));
    std::vector<float> mixed = clean;
    for (float& v : mixed) v += static_cast<float>(gauss(rng));
    const std::vector<double> want = BinMeans(Fbank(mixed), 0, 190);

    Matrix got = Fbank(clean);
    const std::vector<double> before = BinMeans(got, 0, 190);
    aug.AddNoise(NoiseColor::kWhite, snr_db, 123, &got);
    const std::vector<double> have = BinMeans(got, 0, 190);
    double worst = 0, mean = 0, moved = 0;
    for (size_t b = 0; b < want.size(); ++b) {
      worst = testing::Worse(worst, testing::AbsError(have[b], want[b]));
      mean += testing::AbsError(have[b], want[b]) / want.size();
      moved = testing::Worse(moved, have[b] - before[b]);
    }
    // 0.15 nats (0.65 dB) on average over bins, 0.7 at worst: the lowest
    // filters span one or two FFT bins, where the dropped speech-noise cross
    // terms do not average out. And the noise is really there: the bins
    // above the harmonics rose by many nats.
    EXPECT_LT(mean, 0.15) << snr_db << " dB";
    EXPECT_LT(worst, 0.7) << snr_db << " dB";
    EXPECT_GT(moved, 2.0) << snr_db << " dB";
  }
}

TEST(NoiseAugmentTest, NoiseFluctuatesLikeRealNoise) {
  // The spread over frames of a noise-only bin in the bank is the spread of
  // a real noise waveform's fbank, not zero (a smooth spectrum would be).
  std::mt19937 rng(3);
  std::normal_distribution<double> gauss(0.0, 0.01);
  std::vector<float> noise(2 * kRate);
  for (float& v : noise) v = static_cast<float>(gauss(rng));
  const Matrix real = Fbank(noise);
  const NoiseAugmenter aug = Augmenter();
  const Matrix& bank = aug.noise_power(NoiseColor::kWhite);
  for (int64_t b : {2, 40, 78}) {
    double sr = 0, sr2 = 0, sb = 0, sb2 = 0;
    for (int64_t t = 0; t < 190; ++t) {
      sr += real.at(t, b), sr2 += real.at(t, b) * real.at(t, b);
      const double lb = std::log(bank.at(t, b));
      sb += lb, sb2 += lb * lb;
    }
    const double sd_real = std::sqrt(sr2 / 190 - sr * sr / 190 / 190),
                 sd_bank = std::sqrt(sb2 / 190 - sb * sb / 190 / 190);
    EXPECT_NEAR(sd_bank, sd_real, 0.35 * sd_real + 0.02) << "bin " << b;
    EXPECT_GT(sd_bank, 0.05) << "bin " << b;
  }
}

TEST(NoiseAugmentTest, BankColorsHaveTheirPowerDensitySlopes) {
  // Slope of log(power per Hz of bandwidth) against log(centre frequency)
  // over bins from 300 Hz to 6 kHz: 0 (white), -1 (pink), -2 (brown).
  const NoiseAugmenter aug = Augmenter();
  const MelBanksOptions mel = FeatureOptions().fbank.mel_opts;
  const auto to_mel = [](double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); };
  const auto to_hz = [](double m) { return 700.0 * (std::exp(m / 1127.0) - 1.0); };
  const double lo = to_mel(mel.low_freq), step = (to_mel(kRate / 2.0) - lo) / (mel.num_bins + 1);
  const std::pair<NoiseColor, double> cases[] = {
      {NoiseColor::kWhite, 0}, {NoiseColor::kPink, -1}, {NoiseColor::kBrown, -2}};
  for (const auto& [color, slope] : cases) {
    const Matrix& bank = aug.noise_power(color);
    std::vector<double> x, y;
    for (int b = 0; b < mel.num_bins; ++b) {
      const double centre = to_hz(lo + (b + 1) * step);
      if (centre < 300 || centre > 6000) continue;
      double p = 0;
      for (int64_t t = 0; t < bank.rows; ++t) p += bank.at(t, b);
      // The fbank pre-emphasizes (x[i] -= 0.97 x[i-1]); divide its power gain out.
      const double emphasis = 1 + 0.97 * 0.97 - 2 * 0.97 * std::cos(2 * M_PI * centre / kRate);
      x.push_back(std::log(centre));
      y.push_back(std::log(p / emphasis / (to_hz(lo + (b + 2) * step) - to_hz(lo + b * step))));
    }
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size(),
                 my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    EXPECT_NEAR(sxy / sxx, slope, 0.15) << "color " << static_cast<int>(color);
  }
}

TEST(NoiseAugmentTest, ReverbTailHasTheT60AndDrrItWasGiven) {
  // One loud frame in silence: the tail after it decays 60 dB in T60 and
  // carries 10^(-DRR/10) of the direct energy.
  const NoiseAugmenter aug = Augmenter();
  for (double t60 : {0.3, 0.8}) {
    for (double drr : {0.0, 6.0}) {
      Matrix m(400, 80);
      for (float& v : m.data) v = -30.f;
      for (int64_t b = 0; b < 80; ++b) m.at(10, b) = 10.f;
      aug.AddReverb(t60, drr, &m);
      EXPECT_FLOAT_EQ(m.at(10, 5), 10.f);
      const double per_frame = (m.at(20, 5) - m.at(60, 5)) / 40.0;  // nats per 10 ms
      EXPECT_NEAR(per_frame * t60 / 0.01, 6 * std::log(10.0), 0.01) << t60;
      double tail = 0;
      for (int64_t t = 11; t < 400; ++t) tail += std::exp(m.at(t, 5)) - std::exp(-30.0);
      EXPECT_NEAR(10 * std::log10(std::exp(10.0) / tail), drr, 0.05) << t60 << " s, " << drr << " dB";
    }
  }
}

TEST(NoiseAugmentTest, ReverbOnFeaturesMatchesARoomImpulseResponseOnTheWaveform) {
  // A 100 ms noise burst in silence, convolved with direct path + a
  // Gaussian tail of the same T60 and DRR; the total mel power of the
  // frames after the burst follows the waveform reference.
  const double t60 = 0.5, drr = 3.0;
  std::mt19937 rng(11);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<float> burst(kRate, 0.f);
  for (int i = 1600; i < 3200; ++i) burst[static_cast<size_t>(i)] = static_cast<float>(0.1 * gauss(rng));
  const size_t rir_len = static_cast<size_t>(kRate * t60 * 1.2);
  std::vector<double> rir(rir_len, 0.0);
  double tail_energy = 0;
  for (size_t k = 160; k < rir_len; ++k) {  // tail from 10 ms on, as the feature model has it
    rir[k] = gauss(rng) * std::pow(10.0, -3.0 * k / (t60 * kRate));  // amplitude: power falls 60 dB in t60
    tail_energy += rir[k] * rir[k];
  }
  const double scale = std::sqrt(std::pow(10.0, -drr / 10) / tail_energy);
  for (double& r : rir) r *= scale;
  rir[0] = 1.0;
  std::vector<float> wet(burst.size(), 0.f);
  for (size_t i = 1600; i < 3200; ++i) {
    for (size_t k = 0; k < rir_len && i + k < wet.size(); ++k)
      wet[i + k] += static_cast<float>(burst[i] * rir[k]);
  }
  const Matrix want = Fbank(wet);
  Matrix got = Fbank(burst);
  const NoiseAugmenter aug = Augmenter();
  aug.AddReverb(t60, drr, &got);
  const auto total_log = [](const Matrix& m, int64_t t) {
    double p = 0;
    for (int64_t b = 0; b < m.cols; ++b) p += std::exp(m.at(t, b));
    return std::log(p);
  };
  double worst = 0, tail_rise = 0;
  const Matrix dry = Fbank(burst);
  for (int64_t t = 34; t < 60; ++t) {  // 150-400 ms after the burst ends
    worst = testing::Worse(worst, testing::AbsError(total_log(got, t), total_log(want, t)));
    tail_rise = testing::Worse(tail_rise, total_log(got, t) - total_log(dry, t));
  }
  EXPECT_LT(worst, 1.0);       // nats; the waveform tail is one random draw
  EXPECT_GT(tail_rise, 10.0);  // the dry frames are digital silence
}

TEST(NoiseAugmentTest, ApplyIsDeterministicAndOffMeansOff) {
  const Matrix clean = Fbank(Harmonics(0.1));
  NoiseAugmentOptions o;
  o.noise_probability = 1;
  o.reverb_probability = 1;
  const NoiseAugmenter on = Augmenter(o);
  Matrix a = clean, b = clean;
  std::mt19937_64 r1(5), r2(5);
  on.Apply(&r1, &a);
  on.Apply(&r2, &b);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, clean.data);
  Matrix c = clean;
  std::mt19937_64 r3(5);
  Augmenter().Apply(&r3, &c);
  EXPECT_EQ(c.data, clean.data);
}

TEST(NoiseAugmentTest, BadOptionsAreRejectedByName) {
  const auto parse = [](const char* text) {
    return NoiseAugmentOptions::FromJson(nlohmann::json::parse(text));
  };
  EXPECT_TRUE(parse(R"({"noise_probability": 0.5, "snr_db": [0, 20]})").ok());
  for (const auto& [text, name] : std::vector<std::pair<const char*, const char*>>{
           {R"({"noise_probability": 1.5})", "noise_probability"},
           {R"({"snr_db": [20, 0]})", "snr_db"},
           {R"({"snr_db": 10})", "snr_db"},
           {R"({"t60_seconds": [0.01, 0.5]})", "t60_seconds"},
           {R"({"drr_db": ["a", 1]})", "drr_db"},
           {R"({"reverb": 1})", "reverb"}}) {
    auto r = parse(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(std::string("data.noise_augment.") + name), std::string::npos)
        << r.status().message();
  }
  FbankOptions energy = FeatureOptions().fbank;
  energy.use_energy = true;
  EXPECT_FALSE(NoiseAugmenter::Create(energy, {}).ok());
}

}  // namespace
}  // namespace asr
