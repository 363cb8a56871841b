// Kaldi-compatible log mel filterbank (compute-fbank-feats) and MFCC
// (compute-mfcc-feats) frame computers. Input samples are in Kaldi's int16
// range (a full-scale sine has amplitude 32767), at frame_opts.samp_freq.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "features/fft.h"
#include "features/frame_extraction.h"
#include "features/mel_banks.h"

namespace asr {

struct FbankOptions {
  FrameExtractionOptions frame_opts;
  MelBanksOptions mel_opts;   // project default: 80 bins
  bool use_energy = false;    // add log energy as feature 0 (last if htk_compat)
  float energy_floor = 0.f;   // floor energy at this (linear) value; active iff use_energy and > 0
  bool raw_energy = true;     // energy before pre-emphasis and windowing (iff use_energy)
  bool htk_compat = false;    // energy last instead of first
  bool use_log_fbank = true;  // log of the mel energies (floored at FLT_EPSILON)
  bool use_power = true;      // power spectrum; false = magnitude

  int Dim() const { return mel_opts.num_bins + (use_energy ? 1 : 0); }
  absl::Status Validate() const;
  std::string ToString() const { return fields::ToString(*this); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    FrameExtractionOptions::Fields(s.frame_opts, v);
    MelBanksOptions::Fields(s.mel_opts, v);
    v({"use_energy", "add log energy as feature 0 (last with htk_compat)"}, s.use_energy);
    v({"energy_floor", "floor of the (linear) energy; 0 = none"}, s.energy_floor);
    v({"raw_energy", "energy before pre-emphasis and windowing"}, s.raw_energy);
    v({"htk_compat", "energy last instead of first"}, s.htk_compat);
    v({"use_log_fbank", "log of the mel energies"}, s.use_log_fbank);
    v({"use_power", "power spectrum; false = magnitude"}, s.use_power);
  }
};

struct MfccOptions {
  FrameExtractionOptions frame_opts;
  MelBanksOptions mel_opts{23, 20.f, 0.f};
  int num_ceps = 13;             // cepstra kept, including C0 (replaced by energy iff use_energy)
  bool use_energy = true;        // C0 := log energy
  float energy_floor = 0.f;      // as for fbank
  bool raw_energy = true;        // as for fbank
  float cepstral_lifter = 22.f;  // lifter coefficient Q; 0 = no liftering
  bool htk_compat = false;       // energy/C0 last, scaled as HTK

  int Dim() const { return num_ceps; }
  absl::Status Validate() const;
  std::string ToString() const { return fields::ToString(*this); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    FrameExtractionOptions::Fields(s.frame_opts, v);
    MelBanksOptions::Fields(s.mel_opts, v);
    v({"num_ceps", "cepstra kept, C0 included"}, s.num_ceps);
    v({"use_energy", "C0 := log energy"}, s.use_energy);
    v({"energy_floor", "floor of the (linear) energy; 0 = none"}, s.energy_floor);
    v({"raw_energy", "energy before pre-emphasis and windowing"}, s.raw_energy);
    v({"cepstral_lifter", "lifter coefficient; 0 = none"}, s.cepstral_lifter);
    v({"htk_compat", "energy/C0 last, scaled as HTK"}, s.htk_compat);
  }
};

// Computes one feature vector per frame. Not thread-safe (scratch buffers,
// dither RNG); one instance per stream.
class FrameComputer {
 public:
  virtual ~FrameComputer() = default;
  virtual int Dim() const = 0;
  virtual const FrameExtractionOptions& frame_options() const = 0;
  // frame: PaddedWindowSize() values whose first WindowSize() hold the raw
  // frame samples; clobbered. out: Dim() floats.
  virtual void Compute(double* frame, float* out) = 0;
};

class FbankComputer : public FrameComputer {
 public:
  explicit FbankComputer(const FbankOptions& opts);  // opts must be valid
  int Dim() const override { return opts_.Dim(); }
  const FrameExtractionOptions& frame_options() const override { return opts_.frame_opts; }
  void Compute(double* frame, float* out) override;

 private:
  FbankOptions opts_;
  std::vector<double> window_;
  RealPowerSpectrum spectrum_;
  MelBanks mel_;
  std::vector<double> power_, mel_energies_;
  std::mt19937_64 rng_;
};

class MfccComputer : public FrameComputer {
 public:
  explicit MfccComputer(const MfccOptions& opts);  // opts must be valid
  int Dim() const override { return opts_.Dim(); }
  const FrameExtractionOptions& frame_options() const override { return opts_.frame_opts; }
  void Compute(double* frame, float* out) override;

 private:
  MfccOptions opts_;
  std::vector<double> window_;
  RealPowerSpectrum spectrum_;
  MelBanks mel_;
  std::vector<double> power_, mel_energies_;
  std::vector<double> dct_;     // num_ceps x num_bins, row-major
  std::vector<double> lifter_;  // num_ceps
  std::mt19937_64 rng_;
};

}  // namespace asr
