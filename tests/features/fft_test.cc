// Power spectra against a direct O(n^2) DFT in long double.
#include "features/fft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace asr {
namespace {

TEST(FftTest, PowerSpectrumMatchesDirectDftForPow2AndOtherSizes) {
  std::mt19937 rng(11);
  std::normal_distribution<double> g(0, 1000);
  for (int n : {2, 4, 8, 64, 512, 1024, 3, 5, 100, 400, 441, 1000}) {
    std::vector<double> x(static_cast<size_t>(n));
    for (double& v : x) v = g(rng);
    std::vector<double> expected(static_cast<size_t>(n / 2 + 1));
    double max_power = 0;
    for (int k = 0; k <= n / 2; ++k) {
      long double re = 0, im = 0;
      for (int j = 0; j < n; ++j) {
        const long double a = -2.0L * M_PI * k * j / n;
        re += x[static_cast<size_t>(j)] * std::cos(a);
        im += x[static_cast<size_t>(j)] * std::sin(a);
      }
      expected[static_cast<size_t>(k)] = static_cast<double>(re * re + im * im);
      max_power = std::max(max_power, expected[static_cast<size_t>(k)]);
    }
    RealPowerSpectrum spectrum(n);
    std::vector<double> power(static_cast<size_t>(n / 2 + 1));
    std::vector<double> scratch = x;
    spectrum.Compute(scratch.data(), power.data());
    for (int k = 0; k <= n / 2; ++k) {
      EXPECT_NEAR(power[static_cast<size_t>(k)], expected[static_cast<size_t>(k)], 1e-10 * max_power)
          << "n=" << n << " k=" << k;
    }
  }
}

TEST(FftTest, ComplexFftOfAnImpulseIsFlat) {
  ComplexFft fft(16);
  std::vector<double> re(16, 0.0), im(16, 0.0);
  re[0] = 1;
  fft.Forward(re.data(), im.data());
  for (int k = 0; k < 16; ++k) {
    EXPECT_DOUBLE_EQ(re[static_cast<size_t>(k)], 1.0);
    EXPECT_DOUBLE_EQ(im[static_cast<size_t>(k)], 0.0);
  }
}

}  // namespace
}  // namespace asr
