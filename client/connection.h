// How asr-client reaches a server: address, per-call deadline, and the
// channel built from them. Shared by every subcommand.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace asr::client {

struct ConnectionOptions {
  std::string server = "127.0.0.1:50051";  // host:port of asr-server
  double timeout_seconds = 10.0;           // deadline of each unary call
};

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// Sets the unary-call deadline from options on `context`.
void SetDeadline(const ConnectionOptions& options, grpc::ClientContext* context);

// "CODE: message" for a failed call, e.g. "UNAVAILABLE: failed to connect".
std::string Describe(const grpc::Status& status);

}  // namespace asr::client
