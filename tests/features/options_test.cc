// Options structs: Validate() names the bad field, ToString() and JSON show
// every field, JSON round-trips and rejects unknown fields.
#include <gtest/gtest.h>

#include <functional>

#include "features/options_json.h"

namespace asr {
namespace {

using Mutation = std::function<void(FeatureOptions&)>;

// One mutation per field of fbank options (and the MFCC-only ones below).
std::vector<Mutation> FbankMutations() {
  return {
      [](FeatureOptions& o) { o.fbank.frame_opts.samp_freq = 8000; },
      [](FeatureOptions& o) { o.fbank.frame_opts.frame_shift_ms = 12; },
      [](FeatureOptions& o) { o.fbank.frame_opts.frame_length_ms = 30; },
      [](FeatureOptions& o) { o.fbank.frame_opts.dither = 1; },
      [](FeatureOptions& o) { o.fbank.frame_opts.dither_seed = 9; },
      [](FeatureOptions& o) { o.fbank.frame_opts.preemph_coeff = 0.5f; },
      [](FeatureOptions& o) { o.fbank.frame_opts.remove_dc_offset = false; },
      [](FeatureOptions& o) { o.fbank.frame_opts.window_type = WindowType::kSine; },
      [](FeatureOptions& o) { o.fbank.frame_opts.round_to_power_of_two = false; },
      [](FeatureOptions& o) { o.fbank.frame_opts.blackman_coeff = 0.3f; },
      [](FeatureOptions& o) { o.fbank.frame_opts.snip_edges = true; },
      [](FeatureOptions& o) { o.fbank.mel_opts.num_bins = 40; },
      [](FeatureOptions& o) { o.fbank.mel_opts.low_freq = 60; },
      [](FeatureOptions& o) { o.fbank.mel_opts.high_freq = -200; },
      [](FeatureOptions& o) { o.fbank.use_energy = true; },
      [](FeatureOptions& o) { o.fbank.energy_floor = 2; },
      [](FeatureOptions& o) { o.fbank.raw_energy = false; },
      [](FeatureOptions& o) { o.fbank.htk_compat = true; },
      [](FeatureOptions& o) { o.fbank.use_log_fbank = false; },
      [](FeatureOptions& o) { o.fbank.use_power = false; },
  };
}

TEST(FeatureOptionsTest, ToStringAndJsonShowEveryFbankField) {
  const FeatureOptions base;
  for (size_t i = 0; i < FbankMutations().size(); ++i) {
    FeatureOptions o;
    FbankMutations()[i](o);
    EXPECT_NE(o.ToString(), base.ToString()) << "mutation " << i;
    EXPECT_NE(FeatureOptionsToJson(o), FeatureOptionsToJson(base)) << "mutation " << i;
  }
}

TEST(FeatureOptionsTest, ToStringShowsEveryMfccField) {
  FeatureOptions base;
  base.type = FeatureType::kMfcc;
  const std::vector<Mutation> m = {
      [](FeatureOptions& o) { o.mfcc.num_ceps = 20; },
      [](FeatureOptions& o) { o.mfcc.cepstral_lifter = 0; },
      [](FeatureOptions& o) { o.mfcc.use_energy = false; },
      [](FeatureOptions& o) { o.mfcc.energy_floor = 1; },
      [](FeatureOptions& o) { o.mfcc.raw_energy = false; },
      [](FeatureOptions& o) { o.mfcc.htk_compat = true; },
      [](FeatureOptions& o) { o.mfcc.mel_opts.num_bins = 30; },
  };
  for (size_t i = 0; i < m.size(); ++i) {
    FeatureOptions o = base;
    m[i](o);
    EXPECT_NE(o.ToString(), base.ToString()) << "mutation " << i;
    EXPECT_NE(FeatureOptionsToJson(o), FeatureOptionsToJson(base)) << "mutation " << i;
  }
}

TEST(FeatureOptionsTest, JsonRoundTripsEveryField) {
  for (const Mutation& mutate : FbankMutations()) {
    FeatureOptions o;
    mutate(o);
    auto back = FeatureOptionsFromJson(FeatureOptionsToJson(o));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->ToString(), o.ToString());
  }
  FeatureOptions m;
  m.type = FeatureType::kMfcc;
  m.mfcc.num_ceps = 17;
  auto back = FeatureOptionsFromJson(FeatureOptionsToJson(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToString(), m.ToString());
}

TEST(FeatureOptionsTest, JsonErrorsNameTheField) {
  auto r = FeatureOptionsFromJson({{"num_mel_binz", 40}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("features.num_mel_binz"), std::string::npos) << r.status();
  r = FeatureOptionsFromJson({{"dither", "lots"}});
  EXPECT_NE(r.status().message().find("features.dither"), std::string::npos) << r.status();
  r = FeatureOptionsFromJson({{"window_type", "kaiser"}});
  EXPECT_NE(r.status().message().find("window_type"), std::string::npos) << r.status();
  r = FeatureOptionsFromJson({{"type", "mfcc"}, {"use_log_fbank", true}});
  EXPECT_NE(r.status().message().find("use_log_fbank"), std::string::npos) << r.status();
  r = FeatureOptionsFromJson({{"num_ceps", 50}, {"type", "mfcc"}});
  EXPECT_NE(r.status().message().find("num_ceps"), std::string::npos) << r.status();
}

TEST(FeatureOptionsTest, ValidateNamesEveryKindOfBadValue) {
  const std::vector<std::pair<std::string, Mutation>> cases = {
      {"samp_freq", [](FeatureOptions& o) { o.fbank.frame_opts.samp_freq = 100; }},
      {"frame_shift_ms", [](FeatureOptions& o) { o.fbank.frame_opts.frame_shift_ms = 0; }},
      {"frame_length_ms", [](FeatureOptions& o) { o.fbank.frame_opts.frame_length_ms = -1; }},
      {"dither", [](FeatureOptions& o) { o.fbank.frame_opts.dither = -1; }},
      {"preemph_coeff", [](FeatureOptions& o) { o.fbank.frame_opts.preemph_coeff = 1.5f; }},
      {"num_mel_bins", [](FeatureOptions& o) { o.fbank.mel_opts.num_bins = 1; }},
      {"low_freq", [](FeatureOptions& o) { o.fbank.mel_opts.low_freq = 9000; }},
      {"high_freq", [](FeatureOptions& o) { o.fbank.mel_opts.high_freq = 10; }},
      {"energy_floor", [](FeatureOptions& o) { o.fbank.energy_floor = -1; }},
  };
  for (const auto& [field, mutate] : cases) {
    FeatureOptions o;
    mutate(o);
    EXPECT_EQ(o.Validate().message().find(field), 0u) << field << ": " << o.Validate();
  }
}

}  // namespace
}  // namespace asr
