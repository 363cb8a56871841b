#include "model/training/noise_augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "features/online_features.h"
#include "model/base/fields_json.h"

namespace asr {
namespace {

constexpr double kBankSeconds = 20;

double Uniform(std::mt19937_64* rng) { return static_cast<double>((*rng)() >> 11) * 0x1.0p-53; }
double Uniform(std::mt19937_64* rng, double lo, double hi) { return lo + (hi - lo) * Uniform(rng); }

// n samples of Gaussian noise shaped to the color's power density (pink:
// Paul Kellet's refined filter, within 0.05 dB of 1/f above 10 Hz at
// 44.1 kHz and close at 16 kHz; brown: a leaky integrator, 1/f^2 above
// ~10 Hz). Scale is arbitrary; the bank is normalized afterwards.
std::vector<float> ColoredNoise(NoiseColor color, size_t n, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1000.0);
  std::vector<float> out(n);
  double b[7] = {0, 0, 0, 0, 0, 0, 0}, brown = 0;
  const double leak = std::exp(-2 * M_PI * 10 / rate);
  for (size_t i = 0; i < n; ++i) {
    const double w = gauss(rng);
    double y = w;
    if (color == NoiseColor::kPink) {
      b[0] = 0.99886 * b[0] + w * 0.0555179;
      b[1] = 0.99332 * b[1] + w * 0.0750759;
      b[2] = 0.96900 * b[2] + w * 0.1538520;
      b[3] = 0.86650 * b[3] + w * 0.3104856;
      b[4] = 0.55000 * b[4] + w * 0.5329522;
      b[5] = -0.7616 * b[5] - w * 0.0168980;
      y = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
      b[6] = w * 0.115926;
    } else if (color == NoiseColor::kBrown) {
      brown = leak * brown + w;
      y = brown;
    }
    out[i] = static_cast<float>(y);
  }
  return out;
}

absl::Status CheckRange(const char* name, double lo, double hi, double min, double max) {
  if (!(lo >= min && hi <= max && lo <= hi)) {
    return absl::InvalidArgumentError(absl::StrCat("data.noise_augment.", name, ": [", lo, ", ", hi,
                                                   "] must satisfy ", min, " <= min <= max <= ", max));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NoiseAugmentOptions::Validate() const {
  if (!(noise_probability >= 0 && noise_probability <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.noise_augment.noise_probability: ", noise_probability, " not in [0, 1]"));
  }
  if (!(reverb_probability >= 0 && reverb_probability <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.noise_augment.reverb_probability: ", reverb_probability, " not in [0, 1]"));
  }
  if (absl::Status st = CheckRange("snr_db", snr_db[0], snr_db[1], -20, 100); !st.ok()) return st;
  if (absl::Status st = CheckRange("t60_seconds", t60_seconds[0], t60_seconds[1], 0.05, 5); !st.ok())
    return st;
  return CheckRange("drr_db", drr_db[0], drr_db[1], -20, 60);
}

absl::StatusOr<NoiseAugmentOptions> NoiseAugmentOptions::FromJson(const nlohmann::json& j) {
  NoiseAugmentOptions o;
  if (absl::Status st = fields::FromJson(j, "data.noise_augment", &o); !st.ok()) return st;
  if (absl::Status st = o.Validate(); !st.ok()) return st;
  return o;
}

absl::Status NoiseAugmenter::CheckFeatures(const FbankOptions& fbank) {
  if (fbank.use_energy || !fbank.use_log_fbank || !fbank.use_power) {
    return absl::InvalidArgumentError(
        "data.noise_augment: needs log-power fbank features without an energy column "
        "(fbank use_energy false, use_log_fbank true, use_power true)");
  }
  return fbank.Validate();
}

absl::StatusOr<NoiseAugmenter> NoiseAugmenter::Create(const FbankOptions& fbank,
                                                      const NoiseAugmentOptions& opts) {
  if (absl::Status st = CheckFeatures(fbank); !st.ok()) return st;
  if (absl::Status st = opts.Validate(); !st.ok()) return st;
  NoiseAugmenter a(fbank, opts);
  // 1 / pre-emphasis power gain at each bin's centre frequency.
  const double rate = fbank.frame_opts.samp_freq, c = fbank.frame_opts.preemph_coeff;
  for (double centre : MelBinCentersHz(fbank.mel_opts, fbank.frame_opts)) {
    a.unemphasis_.push_back(
        static_cast<float>(1.0 / (1.0 + c * c - 2.0 * c * std::cos(2 * M_PI * centre / rate))));
  }
  FeatureOptions fo;
  fo.type = FeatureType::kFbank;
  fo.fbank = fbank;
  for (NoiseColor c : {NoiseColor::kWhite, NoiseColor::kPink, NoiseColor::kBrown}) {
    const std::vector<float> wave = ColoredNoise(c, static_cast<size_t>(kBankSeconds * rate), rate,
                                                 0x6e6f697365ULL + static_cast<uint64_t>(c));
    auto f = ComputeFeatures(fo, wave.data(), wave.size());
    if (!f.ok()) return f.status();
    Matrix& m = a.bank_[static_cast<size_t>(c)];
    m = std::move(*f);
    double total = 0;
    for (int64_t t = 0; t < m.rows; ++t) {
      float* row = m.row(t);
      for (int64_t b = 0; b < m.cols; ++b) {
        row[b] = std::exp(row[b]);
        total += row[b] * a.unemphasis_[static_cast<size_t>(b)];
      }
    }
    const float scale = static_cast<float>(m.rows / total);
    for (float& v : m.data) v *= scale;
  }
  return a;
}

void NoiseAugmenter::AddReverb(double t60_seconds, double drr_db, Matrix* feats) const {
  const double shift = fbank_.frame_opts.frame_shift_ms * 1e-3;
  const float d = static_cast<float>(std::pow(10.0, -6.0 * shift / t60_seconds));
  const float c = static_cast<float>((1.0 - d) * std::pow(10.0, -drr_db / 10.0));
  const int64_t n = feats->cols;
  std::vector<float> tail(static_cast<size_t>(n), 0.f), prev(static_cast<size_t>(n), 0.f);
  for (int64_t t = 0; t < feats->rows; ++t) {
    float* row = feats->row(t);
    for (int64_t b = 0; b < n; ++b) {
      const size_t k = static_cast<size_t>(b);
      tail[k] = d * tail[k] + prev[k];
      prev[k] = std::exp(row[b]);
      row[b] = std::log(prev[k] + c * tail[k]);
    }
  }
}

void NoiseAugmenter::AddNoise(NoiseColor color, double snr_db, int64_t offset, Matrix* feats) const {
  if (feats->rows == 0) return;
  const Matrix& noise = bank_[static_cast<size_t>(color)];
  std::vector<double> frame_power(static_cast<size_t>(feats->rows));
  for (int64_t t = 0; t < feats->rows; ++t) {
    double p = 0;
    for (int64_t b = 0; b < feats->cols; ++b) {
      p += std::exp(static_cast<double>(feats->at(t, b))) * unemphasis_[static_cast<size_t>(b)];
    }
    frame_power[static_cast<size_t>(t)] = p;
  }
  // Speech power: mean over the louder half of the frames.
  const size_t half = frame_power.size() / 2;
  std::nth_element(frame_power.begin(), frame_power.begin() + static_cast<std::ptrdiff_t>(half),
                   frame_power.end());
  double speech = 0;
  for (size_t i = half; i < frame_power.size(); ++i) speech += frame_power[i];
  speech /= static_cast<double>(frame_power.size() - half);
  const float gain = static_cast<float>(speech * std::pow(10.0, -snr_db / 10.0));
  const int64_t start = ((offset % noise.rows) + noise.rows) % noise.rows;
  for (int64_t t = 0; t < feats->rows; ++t) {
    float* row = feats->row(t);
    const float* n = noise.row((start + t) % noise.rows);
    for (int64_t b = 0; b < feats->cols; ++b) row[b] = std::log(std::exp(row[b]) + gain * n[b]);
  }
}

void NoiseAugmenter::Apply(std::mt19937_64* rng, Matrix* feats) const {
  // Every draw happens whatever the branches, so one option's probability
  // does not shift the other's random stream.
  const bool reverb = Uniform(rng) < opts_.reverb_probability;
  const double t60 = Uniform(rng, opts_.t60_seconds[0], opts_.t60_seconds[1]);
  const double drr = Uniform(rng, opts_.drr_db[0], opts_.drr_db[1]);
  const bool noise = Uniform(rng) < opts_.noise_probability;
  const auto color = static_cast<NoiseColor>((*rng)() % 3);
  const double snr = Uniform(rng, opts_.snr_db[0], opts_.snr_db[1]);
  const auto offset = static_cast<int64_t>((*rng)() % static_cast<uint64_t>(bank_[0].rows));
  if (reverb) AddReverb(t60, drr, feats);
  if (noise) AddNoise(color, snr, offset, feats);
}

}  // namespace asr
