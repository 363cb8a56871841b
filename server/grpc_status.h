// The one place internal errors (absl::Status) become grpc::Status: the
// canonical codes share numbering, the message is kept as is.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace asr::server {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace asr::server
