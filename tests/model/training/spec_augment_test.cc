#include "model/training/spec_augment.h"

#include <gtest/gtest.h>

namespace asr {
namespace {

Matrix Ones(int64_t t, int64_t d) {
  return Matrix(t, d, std::vector<float>(static_cast<size_t>(t * d), 1.f));
}

// Columns/rows that are entirely zero after masking a matrix of ones.
int ZeroCols(const Matrix& m) {
  int n = 0;
  for (int64_t c = 0; c < m.cols; ++c) {
    bool all = true;
    for (int64_t r = 0; r < m.rows; ++r) all &= m.at(r, c) == 0.f;
    n += all;
  }
  return n;
}
int ZeroRows(const Matrix& m) {
  int n = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    bool all = true;
    for (int64_t c = 0; c < m.cols; ++c) all &= m.at(r, c) == 0.f;
    n += all;
  }
  return n;
}

TEST(SpecAugmentTest, LdPresetIsParkEtAlTable1) {
  auto ld = SpecAugmentOptions::Preset("LD");
  ASSERT_TRUE(ld.ok());
  EXPECT_EQ(ld->time_warp, 80);
  EXPECT_EQ(ld->freq_mask_width, 27);
  EXPECT_EQ(ld->num_freq_masks, 2);
  EXPECT_EQ(ld->time_mask_width, 100);
  EXPECT_EQ(ld->num_time_masks, 2);
  EXPECT_EQ(ld->max_time_fraction, 1.0f);
  auto ss = SpecAugmentOptions::Preset("SS");
  EXPECT_EQ(ss->max_time_fraction, 0.2f);
  EXPECT_FALSE(SpecAugmentOptions::Preset("XL").ok());
}

TEST(SpecAugmentTest, SameSeedSameResultDifferentSeedDifferentResult) {
  SpecAugmentOptions o = *SpecAugmentOptions::Preset("LD");
  Matrix base(300, 80);
  for (size_t i = 0; i < base.data.size(); ++i) base.data[i] = static_cast<float>(i % 97);
  Matrix a = base, b = base, c = base;
  std::mt19937_64 r1(42), r2(42), r3(43);
  SpecAugment(o, &r1, &a);
  SpecAugment(o, &r2, &b);
  SpecAugment(o, &r3, &c);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  EXPECT_NE(a.data, base.data);
}

TEST(SpecAugmentTest, MasksRespectWidthsCountsAndTimeFraction) {
  SpecAugmentOptions o;
  o.freq_mask_width = 10;
  o.num_freq_masks = 1;
  o.time_mask_width = 100;
  o.num_time_masks = 1;
  o.max_time_fraction = 0.2f;
  std::mt19937_64 rng(1);
  int max_cols = 0, max_rows = 0;
  for (int i = 0; i < 500; ++i) {
    Matrix m = Ones(50, 80);
    SpecAugment(o, &rng, &m);
    max_cols = std::max(max_cols, ZeroCols(m));
    max_rows = std::max(max_rows, ZeroRows(m));
  }
  EXPECT_EQ(max_cols, 10);  // F bounds the width, and is reached
  EXPECT_EQ(max_rows, 10);  // p * T = 0.2 * 50 < 100 bounds the time mask
}

TEST(SpecAugmentTest, ApplyProbabilityZeroLeavesFeaturesAlone) {
  SpecAugmentOptions o = *SpecAugmentOptions::Preset("LD");
  o.apply_probability = 0.f;
  Matrix m = Ones(200, 80);
  std::mt19937_64 rng(1);
  SpecAugment(o, &rng, &m);
  EXPECT_EQ(m.data, Ones(200, 80).data);
}

TEST(SpecAugmentTest, TimeWarpKeepsShapeAndMovesContent) {
  SpecAugmentOptions o;
  o.num_freq_masks = o.num_time_masks = 0;
  o.time_warp = 20;
  Matrix m(100, 2);
  for (int64_t r = 0; r < 100; ++r) m.at(r, 0) = m.at(r, 1) = static_cast<float>(r);
  std::mt19937_64 rng(9);
  Matrix w = m;
  SpecAugment(o, &rng, &w);
  EXPECT_EQ(w.rows, 100);
  EXPECT_EQ(w.at(0, 0), 0.f);
  EXPECT_EQ(w.at(99, 0), 99.f);
  EXPECT_NE(w.data, m.data);
  for (int64_t r = 1; r < 100; ++r) EXPECT_GE(w.at(r, 0), w.at(r - 1, 0));  // warping is monotone
}

TEST(SpecAugmentTest, ValidateNamesBadFields) {
  SpecAugmentOptions o;
  o.max_time_fraction = 2.f;
  EXPECT_NE(o.Validate().message().find("max_time_fraction"), std::string::npos);
  o = SpecAugmentOptions();
  o.num_freq_masks = -1;
  EXPECT_NE(o.Validate().message().find("num_freq_masks"), std::string::npos);
  EXPECT_NE(SpecAugmentOptions().ToString().find("mask_value="), std::string::npos);
}

}  // namespace
}  // namespace asr
