// Streaming extraction equals whole-utterance extraction bit for bit
// (dither 0), for any chunking, and keeps memory bounded.
#include "features/online_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

namespace asr {
namespace {

std::vector<float> Wave(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 2000.f);
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = g(rng) + 8000.f * std::sin(0.05f * static_cast<float>(i));
  return w;
}

// Feeds `w` in chunks drawn by `next_chunk`, reading frames as they become
// ready and discarding them, like a server stream does.
Matrix Streamed(const FeatureOptions& o, const std::vector<float>& w,
                const std::function<size_t()>& next_chunk) {
  auto ex = OnlineFeatureExtractor::Create(o);
  EXPECT_TRUE(ex.ok());
  OnlineFeatureExtractor& e = **ex;
  std::vector<float> out;
  int64_t read = 0;
  auto drain = [&] {
    for (; read < e.NumFramesReady(); ++read) out.insert(out.end(), e.Frame(read), e.Frame(read) + e.Dim());
    e.DiscardFramesBefore(read);
  };
  for (size_t i = 0; i < w.size();) {
    const size_t n = std::min(next_chunk(), w.size() - i);
    e.AcceptWaveform(w.data() + i, n);
    i += n;
    drain();
  }
  e.InputFinished();
  drain();
  return Matrix(read, e.Dim(), out);
}

std::vector<FeatureOptions> OptionVariants() {
  std::vector<FeatureOptions> v;
  FeatureOptions base;
  v.push_back(base);
  FeatureOptions snip = base;
  snip.fbank.frame_opts.snip_edges = true;
  v.push_back(snip);
  FeatureOptions mfcc;
  mfcc.type = FeatureType::kMfcc;
  v.push_back(mfcc);
  FeatureOptions odd = base;  // non-power-of-two FFT, energy, odd shift
  odd.fbank.frame_opts.round_to_power_of_two = false;
  odd.fbank.frame_opts.frame_shift_ms = 7.f;
  odd.fbank.use_energy = true;
  odd.fbank.mel_opts.num_bins = 40;
  v.push_back(odd);
  return v;
}

TEST(OnlineFeaturesTest, StreamingEqualsBatchBitForBitForRandomChunkings) {
  std::mt19937 rng(7);
  for (const FeatureOptions& o : OptionVariants()) {
    for (size_t len : {0u, 1u, 100u, 399u, 400u, 401u, 16000u, 23456u}) {
      const std::vector<float> w = Wave(len, static_cast<uint32_t>(len));
      auto batch = ComputeFeatures(o, w.data(), w.size());
      ASSERT_TRUE(batch.ok());
      for (int trial = 0; trial < 4; ++trial) {
        const size_t max_chunk = trial == 0 ? 1 : (trial == 1 ? 160 : 3000);
        std::uniform_int_distribution<size_t> chunk(1, max_chunk);
        const Matrix s = Streamed(o, w, [&] { return trial == 0 ? 1 : chunk(rng); });
        ASSERT_EQ(s.rows, batch->rows) << o.ToString() << " len " << len;
        ASSERT_EQ(s.data.size(), batch->data.size());
        if (s.data.empty()) continue;  // memcmp must not see the null data() of empty vectors
        ASSERT_EQ(0, std::memcmp(s.data.data(), batch->data.data(), s.data.size() * sizeof(float)))
            << o.ToString() << " len " << len << " max chunk " << max_chunk;
      }
    }
  }
}

TEST(OnlineFeaturesTest, FrameCountsFollowKaldi) {
  FeatureOptions o;  // 25/10 ms at 16 kHz: 400/160 samples
  const std::vector<float> w = Wave(16000, 1);
  EXPECT_EQ(ComputeFeatures(o, w.data(), 16000)->rows, 100);  // (16000 + 80) / 160
  o.fbank.frame_opts.snip_edges = true;
  EXPECT_EQ(ComputeFeatures(o, w.data(), 16000)->rows, 98);  // 1 + (16000 - 400) / 160
  EXPECT_EQ(ComputeFeatures(o, w.data(), 399)->rows, 0);
}

TEST(OnlineFeaturesTest, FramesBecomeReadyOnlyWhenTheirWindowIsComplete) {
  FeatureOptions o;
  auto ex = OnlineFeatureExtractor::Create(o);
  const std::vector<float> w = Wave(1000, 2);
  (*ex)->AcceptWaveform(w.data(), 279);  // frame 0 spans [-120, 280)
  EXPECT_EQ((*ex)->NumFramesReady(), 0);
  (*ex)->AcceptWaveform(w.data() + 279, 1);
  EXPECT_EQ((*ex)->NumFramesReady(), 1);
  (*ex)->AcceptWaveform(w.data() + 280, 720);  // 1000 samples: frames end at 280 + 160k
  EXPECT_EQ((*ex)->NumFramesReady(), 5);
  (*ex)->InputFinished();  // (1000 + 80) / 160 = 6, the last one reflected at the end
  EXPECT_EQ((*ex)->NumFramesReady(), 6);
}

TEST(OnlineFeaturesTest, MemoryStaysBoundedOnALongStream) {
  FeatureOptions o;
  auto ex = OnlineFeatureExtractor::Create(o);
  const std::vector<float> chunk = Wave(1600, 3);  // 100 ms
  int64_t read = 0;
  for (int i = 0; i < 36000; ++i) {  // one hour
    (*ex)->AcceptWaveform(chunk.data(), chunk.size());
    read = (*ex)->NumFramesReady();
    (*ex)->DiscardFramesBefore(read);
    ASSERT_LE((*ex)->NumFramesStored(), 1);
  }
  // 100 frames/s; the last frame (window reflected at the end) waits for InputFinished().
  EXPECT_EQ(read, 360000 - 1);
}

TEST(OnlineFeaturesTest, InvalidOptionsAreReportedByName) {
  FeatureOptions o;
  o.fbank.mel_opts.num_bins = 200;  // more filters than 512-point FFT bins support
  auto ex = OnlineFeatureExtractor::Create(o);
  ASSERT_FALSE(ex.ok());
  EXPECT_NE(ex.status().message().find("num_mel_bins"), std::string::npos) << ex.status();
  o = FeatureOptions();
  o.fbank.frame_opts.samp_freq = 0;
  EXPECT_NE(OnlineFeatureExtractor::Create(o).status().message().find("samp_freq"), std::string::npos);
}

}  // namespace
}  // namespace asr
