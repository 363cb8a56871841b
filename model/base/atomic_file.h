// Files that are replaced whole or not at all: a reader sees the old
// contents or the new ones, never a torn mix, even across a crash.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace asr {

// Writes `data` to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. Errors
// (INTERNAL) name the path and the system's reason.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data);

}  // namespace asr
