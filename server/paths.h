// Confinement of user-supplied paths to a root directory (the data root):
// relative paths only, no component that escapes the root (".."), no
// symlink that leads outside it, and a conservative character set.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::server {

// Resolves `relative` under `root`. INVALID_ARGUMENT naming `field` when the
// path is empty, absolute, escapes the root lexically or through a symlink,
// or holds characters outside [A-Za-z0-9._/ -].
absl::StatusOr<std::string> ConfinedPath(const std::string& root, const std::string& relative,
                                         const std::string& field);

// Removes what interrupted writes leave directly in `dir` (not below it):
// WriteFileAtomically's ".NAME.tmp-XXXXXX" files, the model registry's
// ".publishing.asrmodel" (and its ".publishing-*" staging files in a shared
// store once an hour old), unfinished uploads' ".incoming-ID" folders.
// Only call it when nothing can be writing there. Returns the paths it
// removed.
std::vector<std::string> RemoveInterruptedWrites(const std::string& dir);

}  // namespace asr::server
