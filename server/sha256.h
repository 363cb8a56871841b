// Incremental SHA-256 (OpenSSL EVP) for verifying streamed uploads.
#pragma once

#include <memory>
#include <string>

namespace asr::server {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(const void* data, size_t size);
  // Lowercase hex digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::server
