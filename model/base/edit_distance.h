// Levenshtein distance between two sequences (characters, words, ...):
// the fewest insertions, deletions and substitutions turning one into the
// other. O(|a| |b|) time, O(|b|) memory. Header-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace asr {

template <class Sequence>
int64_t EditDistance(const Sequence& a, const Sequence& b) {
  std::vector<int64_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace asr
