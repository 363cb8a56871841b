// A checksummed single-file container for models and checkpoints:
//
//   "ASRBNDL1" | u32 kind length | kind | u64 JSON length | JSON |
//   u32 blob count | per blob: u32 name length | name | u64 size | bytes |
//   SHA-256 of everything before (32 bytes)
//
// integers little-endian. Written atomically: temporary file in the same
// directory, fsync, rename over the target, fsync of the directory; a
// reader sees the old file or the new one, never a torn one. Reading
// verifies the checksum and every length, so truncated or corrupt files
// are rejected with an error naming the file.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace asr {

struct Bundle {
  std::string kind;                          // e.g. "model", "checkpoint"
  std::string json;                          // metadata
  std::map<std::string, std::string> blobs;  // named opaque bytes (LibTorch archives)
};

absl::Status WriteBundleAtomically(const std::string& path, const Bundle& bundle);
absl::StatusOr<Bundle> ReadBundle(const std::string& path);

}  // namespace asr
