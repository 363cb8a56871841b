#include "features/cmvn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
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
    ASSERT_TRUE((*stream)
                    ->AcceptAudio(audio.samples.data() + i, std::min<size_t>(333, audio.samples.size() - i))
                    .ok());
  }
  ASSERT_TRUE((*stream)->InputFinished().ok());
  ASSERT_EQ((*stream)->NumFramesReady(), batch->rows);
  std::vector<float> frame(static_cast<size_t>(opts.Dim()));
  for (int64_t r = 0; r < batch->rows; ++r) {
    ASSERT_TRUE((*stream)->CopyFrame(r, frame.data()).ok());
    ASSERT_EQ(0, std::memcmp(frame.data(), batch->row(r), frame.size() * sizeof(float))) << "frame " << r;
  }
}

// Kaldi's definition evaluated directly for frame t: the mean of the window
// ending at t, topped up with the global mean to `prior` frames.
std::vector<double> DirectOnlineMean(const Matrix& m, int64_t t, int window, int prior, const Cmvn& global) {
  const int64_t first = std::max<int64_t>(0, t - window + 1), n = t - first + 1;
  std::vector<double> mean(static_cast<size_t>(m.cols), 0.0);
  for (int64_t c = 0; c < m.cols; ++c) {
    double s = 0;
    for (int64_t r = first; r <= t; ++r) s += m.at(r, c);
    const double top_up = std::max<double>(0, prior - n);
    mean[static_cast<size_t>(c)] =
        (s + top_up * global.mean()[static_cast<size_t>(c)]) / std::max<double>(n, prior);
  }
  return mean;
}

TEST(OnlineCmnTest, MatchesKaldisDefinitionFrameByFrame) {
  const Matrix m = RandomFeats(400, 6, 7);
  CmvnStats stats(6);
  ASSERT_TRUE(stats.Accumulate(RandomFeats(1000, 6, 8)).ok());
  const Cmvn global = *Cmvn::FromStats(stats);
  for (const auto& [window, prior] :
       std::vector<std::pair<int, int>>{{50, 20}, {50, 80}, {600, 200}, {1, 0}}) {
    OnlineCmn cmn(global, {window, prior});
    for (int64_t t = 0; t < m.rows; ++t) {
      std::vector<float> frame(m.row(t), m.row(t) + m.cols);
      cmn.Apply(frame.data());
      const std::vector<double> mean = DirectOnlineMean(m, t, window, prior, global);
      for (int64_t c = 0; c < m.cols; ++c) {
        const double want =
            (m.at(t, c) - mean[static_cast<size_t>(c)]) * global.inv_std()[static_cast<size_t>(c)];
        ASSERT_NEAR(frame[static_cast<size_t>(c)], want, 1e-5 * (1 + std::abs(want)))
            << "W=" << window << " P=" << prior << " t=" << t << " c=" << c;
      }
    }
    EXPECT_EQ(cmn.frames(), m.rows);
  }
}

TEST(OnlineCmnTest, RemovesAConstantChannelOffsetOnceThePriorIsOutweighed) {
  const Matrix m = RandomFeats(300, 4, 9);
  Matrix shifted = m;
  const float offset[4] = {3.f, -2.f, 0.5f, 7.f};  // a fixed channel / level difference in log-mel
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < 4; ++c) shifted.at(r, c) += offset[c];
  }
  CmvnStats stats(4);
  ASSERT_TRUE(stats.Accumulate(m).ok());
  const Cmvn global = *Cmvn::FromStats(stats);
  const int prior = 50;
  OnlineCmn a(global, {100, prior}), b(global, {100, prior});
  for (int64_t t = 0; t < m.rows; ++t) {
    std::vector<float> x(m.row(t), m.row(t) + 4), y(shifted.row(t), shifted.row(t) + 4);
    a.Apply(x.data());
    b.Apply(y.data());
    for (int c = 0; c < 4; ++c) {
      if (t + 1 >= prior) {
        EXPECT_NEAR(x[static_cast<size_t>(c)], y[static_cast<size_t>(c)], 1e-4) << "t=" << t;
      } else if (t == 0) {
        EXPECT_GT(std::abs(x[static_cast<size_t>(c)] - y[static_cast<size_t>(c)]), 0.1)
            << "prior ignored at t=0";
      }
    }
  }
}

TEST(OnlineCmnTest, PipelineNeedsGlobalStatsAndFramesInOrder) {
  FeatureOptions opts;
  const OnlineCmnOptions online{600, 200};
  auto no_stats = StreamingFeaturePipeline::Create(16000, opts, nullptr, online);
  ASSERT_FALSE(no_stats.ok());
  EXPECT_EQ(no_stats.status().code(), absl::StatusCode::kInvalidArgument);
  const Cmvn global = Cmvn::Identity(opts.Dim());
  auto p = StreamingFeaturePipeline::Create(16000, opts, &global, online);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<float> audio(8000, 0.01f), frame(static_cast<size_t>(opts.Dim()));
  ASSERT_TRUE((*p)->AcceptAudio(audio.data(), audio.size()).ok());
  ASSERT_GE((*p)->NumFramesReady(), 3);
  ASSERT_TRUE((*p)->CopyFrame(0, frame.data()).ok());
  const absl::Status skipped = (*p)->CopyFrame(2, frame.data());
  EXPECT_EQ(skipped.code(), absl::StatusCode::kFailedPrecondition) << skipped;
  EXPECT_TRUE((*p)->CopyFrame(1, frame.data()).ok());
}

}  // namespace
}  // namespace asr
