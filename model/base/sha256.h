// SHA-256 (OpenSSL EVP), incremental or in one call: upload verification in
// the client and the server, checksums of model and checkpoint bundles.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace asr {

// Not thread-safe; one instance per digest.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // The 32-byte digest; the object must not be updated afterwards.
  std::string Digest();
  // The digest as 64 lowercase hex digits; same rule.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// 32-byte digest of `data`.
std::string Sha256Digest(const std::string& data);
// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);
// Lowercase hex SHA-256 of a file's bytes, read in 1 MiB blocks; NOT_FOUND
// naming the file if it cannot be read.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace asr
