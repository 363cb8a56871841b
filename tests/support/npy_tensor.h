// Test support: loading N-D .npy arrays ('<f4', '<f8', '<i8'; C order) as
// CPU tensors of the same dtype. Throws std::runtime_error on bad files.
#pragma once

#include <torch/types.h>

#include <string>

namespace asr::testing {

torch::Tensor LoadNpyTensor(const std::string& path);

// True iff every element is finite and satisfies |a - b| <= rtol * (|b| +
// max|b|); otherwise *why describes the first non-finite or the worst element.
bool AllCloseRelative(const torch::Tensor& a, const torch::Tensor& b, double rtol, std::string* why);

}  // namespace asr::testing
