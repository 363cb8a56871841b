// Tolerance checks that fail on NaN and infinity. `err > tol` is false and
// std::max(worst, err) keeps `worst` when err is NaN, so a NaN output would
// pass a comparison written that way; every tolerance comparison in the
// suite goes through these instead, which count a non-finite value as an
// infinite error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>

namespace asr::testing {

constexpr double kInfiniteError = std::numeric_limits<double>::infinity();

// |got - want|, or infinity when either is NaN or infinite.
inline double AbsError(double got, double want) {
  if (!std::isfinite(got) || !std::isfinite(want)) return kInfiniteError;
  return std::fabs(got - want);
}

// The larger of two values, NaN if either is: a running worst error (or
// largest effect) that a NaN poisons, so that both EXPECT_LT(worst, tol) and
// EXPECT_GT(effect, min) then fail.
inline double Worse(double worst, double err) {
  if (std::isnan(worst) || std::isnan(err)) return std::numeric_limits<double>::quiet_NaN();
  return std::max(worst, err);
}

// Largest AbsError(got[i], want[i]) for i in [begin, min(end, size)).
// `got` and `want`: anything with size() and operator[] giving numbers.
template <typename A, typename B>
double MaxAbsError(const A& got, const B& want, size_t begin = 0,
                   size_t end = std::numeric_limits<size_t>::max()) {
  double worst = 0;
  const size_t n = std::min({static_cast<size_t>(got.size()), static_cast<size_t>(want.size()), end});
  for (size_t i = begin; i < n; ++i)
    worst = Worse(worst, AbsError(static_cast<double>(got[i]), static_cast<double>(want[i])));
  return worst;
}

// Equal sizes and |got[i] - want[i]| <= atol + rtol * |want[i]| for every i,
// both finite. On failure: how many elements fail, the first one and the
// worst error / tolerance.
template <typename A, typename B>
::testing::AssertionResult AllClose(const A& got, const B& want, double atol, double rtol = 0) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  size_t bad = 0, first = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < static_cast<size_t>(want.size()); ++i) {
    const double w = static_cast<double>(want[i]), g = static_cast<double>(got[i]);
    const bool finite = std::isfinite(g) && std::isfinite(w);  // an infinite `want` widens tol to infinity
    const double tol = atol + rtol * std::fabs(w);
    const double err = AbsError(g, w);
    worst_ratio = Worse(worst_ratio, finite ? err / tol : kInfiniteError);
    if (!finite || !(err <= tol)) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os << bad << " of " << want.size() << " values outside |got - want| <= " << atol << " + " << rtol
     << " |want| (or not finite); first at " << first << ": " << static_cast<double>(got[first]) << " vs "
     << static_cast<double>(want[first]) << "; worst error / tolerance " << worst_ratio;
  return ::testing::AssertionFailure() << os.str();
}

}  // namespace asr::testing
