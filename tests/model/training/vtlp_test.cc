// VTLP on log-mel features means what it says physically: warping the
// filterbank of a tone at f by alpha gives the filterbank of a tone at
// alpha f (below the warp's knee), the energy column is untouched, and
// alpha = 1 changes nothing.
#include "model/training/vtlp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "features/pipeline.h"

namespace asr {
namespace {

Matrix ToneFbank(double hz, bool use_energy = false) {
  Audio a;
  a.sample_rate = 16000;
  for (int i = 0; i < 16000; ++i)
    a.samples.push_back(static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / 16000.0)));
  FeatureOptions o;
  o.fbank.use_energy = use_energy;
  auto f = ExtractFeatures(a, o);
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

int PeakBin(const Matrix& m, int64_t row, int offset = 0) {
  const float* r = m.row(row) + offset;
  return static_cast<int>(std::max_element(r, r + 80) - r);
}

TEST(VtlpTest, AlphaOneIsTheIdentity) {
  Matrix m = ToneFbank(1000);
  const Matrix before = m;
  VtlpWarper(FeatureOptions().fbank).Apply(1.0, &m);
  EXPECT_EQ(m.data, before.data);
}

TEST(VtlpTest, WarpingAToneMovesItToAlphaTimesItsFrequency) {
  const VtlpWarper warp(FeatureOptions().fbank);
  for (double alpha : {0.9, 1.1, 1.2}) {
    for (double hz : {500.0, 1000.0, 2500.0}) {
      Matrix warped = ToneFbank(hz);
      warp.Apply(alpha, &warped);
      const Matrix reference = ToneFbank(alpha * hz);
      EXPECT_NEAR(PeakBin(warped, 50), PeakBin(reference, 50), 1) << "alpha " << alpha << ", " << hz << " Hz";
      EXPECT_NE(PeakBin(warped, 50), PeakBin(ToneFbank(hz), 50)) << "alpha " << alpha << ", " << hz << " Hz";
    }
  }
}

TEST(VtlpTest, EnergyColumnIsLeftAlone) {
  Matrix m = ToneFbank(1000, /*use_energy=*/true);
  const Matrix before = m;
  FeatureOptions o;
  o.fbank.use_energy = true;
  VtlpWarper(o.fbank).Apply(1.15, &m);
  for (int64_t r = 0; r < m.rows; ++r) EXPECT_EQ(m.row(r)[0], before.row(r)[0]);
  EXPECT_GT(PeakBin(m, 50, 1), PeakBin(before, 50, 1));
}

}  // namespace
}  // namespace asr
