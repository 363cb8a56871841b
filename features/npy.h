// Reading and writing 2-D float32 arrays in NumPy's .npy format (version 1.0,
// little-endian, C order): the interchange format of asr-features and of the
// golden reference data the tests compare against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "features/matrix.h"

namespace asr {

// Writes `m` as a '<f4' array of shape (rows, cols) to `path`.
absl::Status WriteNpy(const std::string& path, const Matrix& m);

// Reads a .npy file holding a 1-D or 2-D '<f4' or '<f8' C-order array; a 1-D
// array of n values becomes n x 1. Doubles are narrowed to float.
absl::StatusOr<Matrix> ReadNpy(const std::string& path);

}  // namespace asr
