// A dense row-major float32 matrix: the feature container of features/
// (rows = frames, cols = feature dimension). Independent of LibTorch so the
// feature code builds and fuzzes without it.
#pragma once

#include <cstdint>
#include <vector>

namespace asr {

struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // size rows * cols

  Matrix() = default;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c), 0.f) {}
  Matrix(int64_t r, int64_t c, std::vector<float> d) : rows(r), cols(c), data(std::move(d)) {}

  float* row(int64_t r) { return data.data() + r * cols; }
  const float* row(int64_t r) const { return data.data() + r * cols; }
  float at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
  float& at(int64_t r, int64_t c) { return data[static_cast<size_t>(r * cols + c)]; }
};

}  // namespace asr
