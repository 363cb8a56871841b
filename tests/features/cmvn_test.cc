#include "features/cmvn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <cstring>
#include <random>

#include "features/pipeline.h"
#include "tests/support/process.h"

namespace asr {
namespace {

Matrix RandomFeats(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  Matrix m(rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      m.at(r, c) = static_cast<float>(c) + static_cast<float>(c + 1) * std::normal_distribution<float>()(rng);
    }
  }
  return m;
}

TEST(CmvnTest, NormalizesToZeroMeanUnitVariance) {
  const Matrix m = RandomFeats(5000, 4, 1);
  CmvnStats stats(4);
  ASSERT_TRUE(stats.Accumulate(m).ok());
  auto cmvn = Cmvn::FromStats(stats);
  ASSERT_TRUE(cmvn.ok());
  Matrix n = m;
  ASSERT_TRUE(cmvn->Apply(&n).ok());
  for (int c = 0; c < 4; ++c) {
    double sum = 0, sq = 0;
    for (int64_t r = 0; r < n.rows; ++r) {
      sum += n.at(r, c);
      sq += n.at(r, c) * n.at(r, c);
    }
    EXPECT_NEAR(sum / n.rows, 0.0, 1e-5);
    EXPECT_NEAR(sq / n.rows, 1.0, 1e-4);
  }
}

TEST(CmvnTest, MergedStatsEqualOneAccumulator) {
  const Matrix a = RandomFeats(100, 3, 2), b = RandomFeats(50, 3, 3);
  CmvnStats all(3), sa(3), sb(3);
  ASSERT_TRUE(all.Accumulate(a).ok());
  ASSERT_TRUE(all.Accumulate(b).ok());
  ASSERT_TRUE(sa.Accumulate(a).ok());
  ASSERT_TRUE(sb.Accumulate(b).ok());
  ASSERT_TRUE(sa.Merge(sb).ok());
  EXPECT_EQ(sa.frames(), 150);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(sa.sum()[i], all.sum()[i], 1e-9);
  EXPECT_FALSE(sa.Merge(CmvnStats(2)).ok());
}

TEST(CmvnTest, SaveAndLoadRoundTripExactly) {
  CmvnStats stats(3);
  ASSERT_TRUE(stats.Accumulate(RandomFeats(77, 3, 4)).ok());
  auto cmvn = Cmvn::FromStats(stats);
  const std::string path = testing::MakeTempDir() + "/cmvn.json";
  ASSERT_TRUE(cmvn->Save(path).ok());
  auto loaded = Cmvn::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->mean(), cmvn->mean());
  EXPECT_EQ(loaded->inv_std(), cmvn->inv_std());
  EXPECT_EQ(loaded->stats().sum(), cmvn->stats().sum());
  EXPECT_EQ(loaded->stats().frames(), 77);
}

TEST(CmvnTest, RejectsBadFilesAndMismatchedDims) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/bad.json") << "{\"dim\": 2, \"frames\": 3, \"sum\": [1], \"sum_sq\": [1, 2]}";
  auto r = Cmvn::Load(dir + "/bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.json"), std::string::npos);
  std::ofstream(dir + "/junk.json") << "not json";
  EXPECT_FALSE(Cmvn::Load(dir + "/junk.json").ok());
  EXPECT_FALSE(Cmvn::Load(dir + "/missing.json").ok());
  EXPECT_FALSE(Cmvn::FromStats(CmvnStats(4)).ok());  // no frames
  Matrix m(2, 5);
  EXPECT_FALSE(Cmvn::Identity(4).Apply(&m).ok());
}

TEST(CmvnTest, BatchAndStreamingApplyIdentically) {
  Audio audio;
  audio.sample_rate = 16000;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.f, 0.1f);
  for (int i = 0; i < 16000; ++i) audio.samples.push_back(g(rng));
  FeatureOptions opts;
  auto raw = ExtractFeatures(audio, opts);
  CmvnStats stats(opts.Dim());
  ASSERT_TRUE(stats.Accumulate(*raw).ok());
  auto cmvn = Cmvn::FromStats(stats);
  auto batch = ExtractFeatures(audio, opts, &*cmvn);
  ASSERT_TRUE(batch.ok());
  auto stream = StreamingFeaturePipeline::Create(16000, opts, &*cmvn);
  ASSERT_TRUE(stream.ok());
  for (size_t i = 0; i < audio.samples.size(); i += 333) {
    ASSERT_TRUE((*stream)->AcceptAudio(audio.samples.data() + i, std::min<size_t>(333, audio.samples.size() - i)).ok());
  }
  ASSERT_TRUE((*stream)->InputFinished().ok());
  ASSERT_EQ((*stream)->NumFramesReady(), batch->rows);
  std::vector<float> frame(static_cast<size_t>(opts.Dim()));
  for (int64_t r = 0; r < batch->rows; ++r) {
    (*stream)->CopyFrame(r, frame.data());
    ASSERT_EQ(0, std::memcmp(frame.data(), batch->row(r), frame.size() * sizeof(float))) << "frame " << r;
  }
}

}  // namespace
}  // namespace asr
