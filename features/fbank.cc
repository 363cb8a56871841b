#include "features/fbank.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

constexpr double kEps = std::numeric_limits<float>::epsilon();

absl::Status ValidateEnergy(float energy_floor) {
  if (!(energy_floor >= 0.f && std::isfinite(energy_floor))) {
    return absl::InvalidArgumentError(absl::StrCat("energy_floor: ", energy_floor, " must be >= 0"));
  }
  return absl::OkStatus();
}

// Shared first half of fbank and MFCC: window processing, energy, power
// spectrum. Returns the log energy (meaningful iff use_energy).
double WindowAndSpectrum(const FrameExtractionOptions& fo, const std::vector<double>& window, bool use_energy,
                         bool raw_energy, float energy_floor, RealPowerSpectrum* spectrum, double* frame,
                         double* power, std::mt19937_64* rng) {
  double log_energy = 0.0;
  ProcessWindow(fo, window, frame, (use_energy && raw_energy) ? &log_energy : nullptr, rng);
  const int size = fo.WindowSize(), padded = fo.PaddedWindowSize();
  for (int i = size; i < padded; ++i) frame[i] = 0.0;
  if (use_energy && !raw_energy) log_energy = LogEnergy(frame, size);
  if (use_energy && energy_floor > 0.f) log_energy = std::max(log_energy, std::log(double{energy_floor}));
  spectrum->Compute(frame, power);
  return log_energy;
}

}  // namespace

absl::Status FbankOptions::Validate() const {
  if (absl::Status st = frame_opts.Validate(); !st.ok()) return st;
  if (absl::Status st = mel_opts.Validate(frame_opts); !st.ok()) return st;
  return ValidateEnergy(energy_floor);
}

absl::Status MfccOptions::Validate() const {
  if (absl::Status st = frame_opts.Validate(); !st.ok()) return st;
  if (absl::Status st = mel_opts.Validate(frame_opts); !st.ok()) return st;
  if (num_ceps < 1 || num_ceps > mel_opts.num_bins) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_ceps: ", num_ceps, " not in [1, num_mel_bins=", mel_opts.num_bins, "]"));
  }
  if (!(cepstral_lifter >= 0.f && std::isfinite(cepstral_lifter))) {
    return absl::InvalidArgumentError(absl::StrCat("cepstral_lifter: ", cepstral_lifter, " must be >= 0"));
  }
  return ValidateEnergy(energy_floor);
}

FbankComputer::FbankComputer(const FbankOptions& opts)
    : opts_(opts),
      window_(MakeWindow(opts.frame_opts)),
      spectrum_(opts.frame_opts.PaddedWindowSize()),
      mel_(opts.mel_opts, opts.frame_opts),
      power_(static_cast<size_t>(opts.frame_opts.PaddedWindowSize() / 2 + 1)),
      mel_energies_(static_cast<size_t>(opts.mel_opts.num_bins)),
      rng_(opts.frame_opts.dither_seed) {}

void FbankComputer::Compute(double* frame, float* out) {
  const double log_energy = WindowAndSpectrum(opts_.frame_opts, window_, opts_.use_energy, opts_.raw_energy,
                                              opts_.energy_floor, &spectrum_, frame, power_.data(), &rng_);
  if (!opts_.use_power) {
    for (double& p : power_) p = std::sqrt(p);
  }
  const int num_bins = opts_.mel_opts.num_bins;
  float* mel = out + ((opts_.use_energy && !opts_.htk_compat) ? 1 : 0);
  mel_.Compute(power_.data(), mel_energies_.data());
  for (int i = 0; i < num_bins; ++i) {
    const double e = mel_energies_[static_cast<size_t>(i)];
    mel[i] = static_cast<float>(opts_.use_log_fbank ? std::log(std::max(e, kEps)) : e);
  }
  if (opts_.use_energy) out[opts_.htk_compat ? num_bins : 0] = static_cast<float>(log_energy);
}

MfccComputer::MfccComputer(const MfccOptions& opts)
    : opts_(opts),
      window_(MakeWindow(opts.frame_opts)),
      spectrum_(opts.frame_opts.PaddedWindowSize()),
      mel_(opts.mel_opts, opts.frame_opts),
      power_(static_cast<size_t>(opts.frame_opts.PaddedWindowSize() / 2 + 1)),
      mel_energies_(static_cast<size_t>(opts.mel_opts.num_bins)),
      rng_(opts.frame_opts.dither_seed) {
  // Kaldi's ComputeDctMatrix (orthonormal DCT-II), first num_ceps rows.
  const int n = opts.mel_opts.num_bins;
  dct_.resize(static_cast<size_t>(opts.num_ceps * n));
  for (int k = 0; k < opts.num_ceps; ++k) {
    const double norm = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
    for (int j = 0; j < n; ++j) {
      dct_[static_cast<size_t>(k * n + j)] = norm * std::cos(M_PI / n * (j + 0.5) * k);
    }
  }
  lifter_.assign(static_cast<size_t>(opts.num_ceps), 1.0);
  if (opts.cepstral_lifter != 0.f) {
    const double q = opts.cepstral_lifter;
    for (int i = 0; i < opts.num_ceps; ++i) {
      lifter_[static_cast<size_t>(i)] = 1.0 + 0.5 * q * std::sin(M_PI * i / q);
    }
  }
}

void MfccComputer::Compute(double* frame, float* out) {
  const double log_energy = WindowAndSpectrum(opts_.frame_opts, window_, opts_.use_energy, opts_.raw_energy,
                                              opts_.energy_floor, &spectrum_, frame, power_.data(), &rng_);
  mel_.Compute(power_.data(), mel_energies_.data());
  const int n = opts_.mel_opts.num_bins;
  for (double& m : mel_energies_) m = std::log(std::max(m, kEps));
  for (int k = 0; k < opts_.num_ceps; ++k) {
    const double* row = dct_.data() + static_cast<size_t>(k * n);
    double acc = 0.0;
    for (int j = 0; j < n; ++j) acc += row[j] * mel_energies_[static_cast<size_t>(j)];
    out[k] = static_cast<float>(acc * lifter_[static_cast<size_t>(k)]);
  }
  if (opts_.use_energy) out[0] = static_cast<float>(log_energy);
  if (opts_.htk_compat) {
    float energy = out[0];
    for (int k = 0; k + 1 < opts_.num_ceps; ++k) out[k] = out[k + 1];
    if (!opts_.use_energy) energy *= static_cast<float>(M_SQRT2);
    out[opts_.num_ceps - 1] = energy;
  }
}

}  // namespace asr
