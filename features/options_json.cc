#include "features/options_json.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// Reads j[key] into *field if present; records the key as known.
template <class T>
absl::Status Read(const nlohmann::json& j, const char* key, T* field, std::set<std::string>* known) {
  known->insert(key);
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  try {
    *field = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("features.", key, ": wrong type (", it->dump(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json FeatureOptionsToJson(const FeatureOptions& o) {
  const FrameExtractionOptions& f = o.frame_opts();
  const bool fbank = o.type == FeatureType::kFbank;
  const MelBanksOptions& mel = fbank ? o.fbank.mel_opts : o.mfcc.mel_opts;
  nlohmann::json j = {
      {"type", fbank ? "fbank" : "mfcc"},
      {"sample_rate", f.samp_freq},
      {"frame_shift_ms", f.frame_shift_ms},
      {"frame_length_ms", f.frame_length_ms},
      {"dither", f.dither},
      {"dither_seed", f.dither_seed},
      {"preemph_coeff", f.preemph_coeff},
      {"remove_dc_offset", f.remove_dc_offset},
      {"window_type", WindowTypeName(f.window_type)},
      {"round_to_power_of_two", f.round_to_power_of_two},
      {"blackman_coeff", f.blackman_coeff},
      {"snip_edges", f.snip_edges},
      {"num_mel_bins", mel.num_bins},
      {"low_freq", mel.low_freq},
      {"high_freq", mel.high_freq},
  };
  if (fbank) {
    j["use_energy"] = o.fbank.use_energy;
    j["energy_floor"] = o.fbank.energy_floor;
    j["raw_energy"] = o.fbank.raw_energy;
    j["htk_compat"] = o.fbank.htk_compat;
    j["use_log_fbank"] = o.fbank.use_log_fbank;
    j["use_power"] = o.fbank.use_power;
  } else {
    j["use_energy"] = o.mfcc.use_energy;
    j["energy_floor"] = o.mfcc.energy_floor;
    j["raw_energy"] = o.mfcc.raw_energy;
    j["htk_compat"] = o.mfcc.htk_compat;
    j["num_ceps"] = o.mfcc.num_ceps;
    j["cepstral_lifter"] = o.mfcc.cepstral_lifter;
  }
  return j;
}

absl::StatusOr<FeatureOptions> FeatureOptionsFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("features: must be a JSON object");
  FeatureOptions o;
  std::set<std::string> known;
  std::string type = "fbank";
  if (absl::Status st = Read(j, "type", &type, &known); !st.ok()) return st;
  if (type != "fbank" && type != "mfcc") {
    return absl::InvalidArgumentError(absl::StrCat("features.type: '", type, "' is not fbank|mfcc"));
  }
  o.type = type == "fbank" ? FeatureType::kFbank : FeatureType::kMfcc;
  FrameExtractionOptions& f = o.mutable_frame_opts();
  const bool fbank = o.type == FeatureType::kFbank;
  MelBanksOptions& mel = fbank ? o.fbank.mel_opts : o.mfcc.mel_opts;
  std::string window = WindowTypeName(f.window_type);
  bool& use_energy = fbank ? o.fbank.use_energy : o.mfcc.use_energy;
  float& energy_floor = fbank ? o.fbank.energy_floor : o.mfcc.energy_floor;
  bool& raw_energy = fbank ? o.fbank.raw_energy : o.mfcc.raw_energy;
  bool& htk_compat = fbank ? o.fbank.htk_compat : o.mfcc.htk_compat;
  const absl::Status statuses[] = {
      Read(j, "sample_rate", &f.samp_freq, &known),
      Read(j, "frame_shift_ms", &f.frame_shift_ms, &known),
      Read(j, "frame_length_ms", &f.frame_length_ms, &known),
      Read(j, "dither", &f.dither, &known),
      Read(j, "dither_seed", &f.dither_seed, &known),
      Read(j, "preemph_coeff", &f.preemph_coeff, &known),
      Read(j, "remove_dc_offset", &f.remove_dc_offset, &known),
      Read(j, "window_type", &window, &known),
      Read(j, "round_to_power_of_two", &f.round_to_power_of_two, &known),
      Read(j, "blackman_coeff", &f.blackman_coeff, &known),
      Read(j, "snip_edges", &f.snip_edges, &known),
      Read(j, "num_mel_bins", &mel.num_bins, &known),
      Read(j, "low_freq", &mel.low_freq, &known),
      Read(j, "high_freq", &mel.high_freq, &known),
      Read(j, "use_energy", &use_energy, &known),
      Read(j, "energy_floor", &energy_floor, &known),
      Read(j, "raw_energy", &raw_energy, &known),
      Read(j, "htk_compat", &htk_compat, &known),
      fbank ? Read(j, "use_log_fbank", &o.fbank.use_log_fbank, &known) : absl::OkStatus(),
      fbank ? Read(j, "use_power", &o.fbank.use_power, &known) : absl::OkStatus(),
      fbank ? absl::OkStatus() : Read(j, "num_ceps", &o.mfcc.num_ceps, &known),
      fbank ? absl::OkStatus() : Read(j, "cepstral_lifter", &o.mfcc.cepstral_lifter, &known),
  };
  for (const absl::Status& st : statuses) {
    if (!st.ok()) return st;
  }
  if (!ParseWindowType(window, &f.window_type)) {
    return absl::InvalidArgumentError(absl::StrCat("features.window_type: unknown window '", window, "'"));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) {
      return absl::InvalidArgumentError(
          absl::StrCat("features.", it.key(), ": unknown field for ", type, " features"));
    }
  }
  if (absl::Status st = o.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("features.", st.message()));
  }
  return o;
}

}  // namespace asr
