// Kaldi-compatibility of fbank/MFCC against torchaudio.compliance.kaldi.
// Reference data: /usr/bin/python3 tests/golden/make_feature_golden.py
// Tolerance: rtol 1e-4 and atol 1e-4 on log-domain outputs (log fbank,
// MFCC, log energy); rtol 1e-4 plus atol 1e-6 x the largest reference value
// on the one linear-energy case.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "features/audio.h"
#include "features/npy.h"
#include "features/options_json.h"
#include "features/pipeline.h"
#include "tests/support/tolerance.h"

namespace asr {
namespace {

const std::string kDir = std::string(ASR_SOURCE_DIR) + "/tests/golden/features/";

nlohmann::json Cases() {
  std::ifstream in(kDir + "cases.json");
  return nlohmann::json::parse(in);
}

TEST(FbankGoldenTest, MatchesTorchaudioKaldiOnEveryCase) {
  const nlohmann::json cases = Cases();
  ASSERT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    const std::string label = c["audio"].get<std::string>() + " / " + c["case"].get<std::string>();
    nlohmann::json opts = c["options"];
    opts["type"] = c["type"];
    opts["sample_rate"] = c["sample_rate"];
    auto fo = FeatureOptionsFromJson(opts);
    ASSERT_TRUE(fo.ok()) << label << ": " << fo.status();
    auto audio = DecodeAudioFile(kDir + c["audio"].get<std::string>());
    ASSERT_TRUE(audio.ok()) << audio.status();
    auto feats = ExtractFeatures(*audio, *fo);
    ASSERT_TRUE(feats.ok()) << label << ": " << feats.status();
    auto ref = ReadNpy(kDir + c["reference"].get<std::string>());
    ASSERT_TRUE(ref.ok()) << ref.status();
    ASSERT_EQ(feats->rows, ref->rows) << label;
    ASSERT_EQ(feats->cols, ref->cols) << label;
    const bool linear = c["type"] == "fbank" && !c["options"]["use_log_fbank"].get<bool>();
    float max_ref = 0.f;
    for (float v : ref->data) max_ref = std::max(max_ref, std::fabs(v));
    const float atol = linear ? 1e-6f * max_ref : 1e-4f;
    EXPECT_TRUE(testing::AllClose(feats->data, ref->data, atol, 1e-4)) << label;
  }
}

TEST(FbankGoldenTest, ProjectDefaultsAre80BinLogFbank25By10Povey) {
  FeatureOptions o;
  EXPECT_EQ(o.type, FeatureType::kFbank);
  EXPECT_EQ(o.Dim(), 80);
  EXPECT_EQ(o.fbank.frame_opts.WindowSize(), 400);
  EXPECT_EQ(o.fbank.frame_opts.WindowShift(), 160);
  EXPECT_EQ(o.fbank.frame_opts.window_type, WindowType::kPovey);
  EXPECT_FALSE(o.fbank.frame_opts.snip_edges);
  EXPECT_EQ(o.fbank.frame_opts.dither, 0.f);
  EXPECT_TRUE(o.Validate().ok());
}

}  // namespace
}  // namespace asr
