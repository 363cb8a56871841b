// Optional bearer-token authentication: with a token configured, every RPC
// (except health and server reflection, which serves the schema only) must
// carry "authorization: Bearer <token>" metadata (the scheme's case is
// ignored, RFC 7235), or it fails with UNAUTHENTICATED.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace asr::server {

class Authenticator {
 public:
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

  Authenticator() = default;
  explicit Authenticator(std::string token) : token_(std::move(token)) {}
  // Reads the token from a file (surrounding whitespace trimmed); an empty
  // path disables authentication. Errors if the file is unreadable or empty.
  static absl::StatusOr<Authenticator> FromFile(const std::string& path);

  bool enabled() const { return !token_.empty(); }
  // OK, or UNAUTHENTICATED. Thread-safe.
  grpc::Status Check(const grpc::CallbackServerContext* context) const;
  // The same on a call's client metadata. The token is compared in time
  // that depends on its length only, never on where a guess first differs.
  grpc::Status CheckMetadata(const Metadata& metadata) const;

 private:
  std::string token_;
};

}  // namespace asr::server
