// The shared tolerance checks fail on NaN and infinity wherever they occur.
#include "tests/support/tolerance.h"

#include <cmath>
#include <vector>

namespace asr::testing {
namespace {

TEST(ToleranceTest, NonFiniteValuesNeverPass) {
  const std::vector<float> want = {1.f, 2.f, 3.f};
  EXPECT_TRUE(AllClose(std::vector<float>{1.f, 2.00001f, 3.f}, want, 1e-4));
  EXPECT_FALSE(AllClose(std::vector<float>{1.f, 2.1f, 3.f}, want, 1e-4));
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    for (size_t at = 0; at < want.size(); ++at) {
      std::vector<float> got = want;
      got[at] = bad;
      EXPECT_FALSE(AllClose(got, want, 1e9, 1e9)) << bad << " at " << at;
      EXPECT_FALSE(AllClose(want, got, 1e9, 1e9)) << bad << " at " << at << " in the reference";
      EXPECT_EQ(MaxAbsError(got, want), kInfiniteError) << bad << " at " << at;
    }
  }
  const std::vector<double> inf = {INFINITY};
  EXPECT_FALSE(AllClose(inf, inf, 1.0)) << "equal infinities are not a match";
  EXPECT_FALSE(AllClose(std::vector<float>{1.f}, want, 1.0)) << "sizes differ";
}

TEST(ToleranceTest, WorseKeepsANaNWhereStdMaxDropsIt) {
  EXPECT_EQ(std::max(0.5, double(NAN)), 0.5);  // why Worse exists
  EXPECT_TRUE(std::isnan(Worse(0.5, NAN)));
  EXPECT_TRUE(std::isnan(Worse(NAN, 0.5)));
  EXPECT_FALSE(Worse(0.5, NAN) > 0.1) << "an effect that is NaN is no effect";
  EXPECT_EQ(Worse(0.5, 0.25), 0.5);
  EXPECT_EQ(AbsError(1.0, 1.5), 0.5);
  EXPECT_EQ(MaxAbsError(std::vector<double>{0, 5, 1}, std::vector<double>{0, 0, 0}, 2), 1.0);
}

}  // namespace
}  // namespace asr::testing
