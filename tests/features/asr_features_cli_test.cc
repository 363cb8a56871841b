// The asr-features executable: batch and --stream-chunk outputs agree with
// the library and each other; options print; bad input gives exit 1 and one
// line naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "features/audio.h"
#include "features/npy.h"
#include "features/pipeline.h"
#include "tests/support/process.h"

namespace asr {
namespace {

const std::string kWav = std::string(ASR_SOURCE_DIR) + "/tests/golden/features/speech16k.wav";

TEST(AsrFeaturesCliTest, BatchAndStreamingOutputsEqualTheLibrary) {
  const std::string dir = testing::MakeTempDir();
  auto r =
      testing::RunProcess({testing::BinPath("asr-features"), "--input", kWav, "--output", dir + "/b.npy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = testing::RunProcess({testing::BinPath("asr-features"), "--input", kWav, "--output", dir + "/s.npy",
                           "--stream-chunk", "37"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = ReadNpy(dir + "/b.npy"), s = ReadNpy(dir + "/s.npy");
  ASSERT_TRUE(b.ok() && s.ok());
  EXPECT_EQ(b->cols, 80);
  EXPECT_EQ(b->data, s->data);
  auto lib = ExtractFeatures(*DecodeAudioFile(kWav), FeatureOptions());
  EXPECT_EQ(lib->data, b->data);
}

TEST(AsrFeaturesCliTest, MfccFlagsAndResamplingFromRawPcm) {
  const std::string dir = testing::MakeTempDir();
  // 8 kHz s16le raw -> 16 kHz MFCC with 20 cepstra.
  std::vector<int16_t> pcm(8000);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(8000 * std::sin(0.1 * i));
  std::ofstream(dir + "/a.raw", std::ios::binary).write(reinterpret_cast<const char*>(pcm.data()), 16000);
  auto r = testing::RunProcess({testing::BinPath("asr-features"), "--input", dir + "/a.raw", "--raw-format",
                                "s16le", "--raw-rate", "8000", "--type", "mfcc", "--num-ceps", "20",
                                "--num-mel-bins", "30", "--output", dir + "/m.npy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = ReadNpy(dir + "/m.npy");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cols, 20);
  EXPECT_EQ(m->rows, 100);  // 1 s at 10 ms
}

TEST(AsrFeaturesCliTest, PrintOptionsShowsEffectiveOptions) {
  auto r = testing::RunProcess({testing::BinPath("asr-features"), "--input", kWav, "--print-options",
                                "--window-type", "hamming", "--snip-edges", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("window_type=hamming"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("snip_edges=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("num_mel_bins=80"), std::string::npos) << r.out;
}

TEST(AsrFeaturesCliTest, BadInputExitsOneWithOneLineNamingTheFile) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/bad.wav") << "RIFF....WAVEjunk";
  auto r = testing::RunProcess(
      {testing::BinPath("asr-features"), "--input", dir + "/bad.wav", "--output", dir + "/x.npy"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir + "/bad.wav"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = testing::RunProcess(
      {testing::BinPath("asr-features"), "--input", kWav, "--output", dir + "/x.npy", "--num-mel-bins", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("num_mel_bins"), std::string::npos) << r.err;
  r = testing::RunProcess({testing::BinPath("asr-features"), "--input", kWav, "--window-type", "kaiser",
                           "--output", dir + "/x.npy"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace asr
