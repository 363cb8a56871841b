// Test support: Debian's nginx as an HTTP/2 gRPC load balancer on a free
// loopback port, in its own temporary directory, balancing each call
// (stream) round robin over `upstreams`. A call an upstream refuses or
// fails before answering is retried on the next one (grpc_next_upstream).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace asr::testing {

class GrpcBalancer {
 public:
  // Starts nginx and waits (up to 30 s) until it accepts connections.
  // Returns nullptr if it could not; *why then says why.
  static std::unique_ptr<GrpcBalancer> Start(const std::vector<std::string>& upstreams, std::string* why);
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_->log(); }

 private:
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace asr::testing
