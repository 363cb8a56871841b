// How asr-client reaches a server: address, TLS, bearer token, per-call
// deadline, and the channel and contexts built from them. Shared by every
// subcommand.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace asr::client {

struct ConnectionOptions {
  std::string server = "127.0.0.1:50051";  // host:port of asr-server
  double timeout_seconds = 30.0;           // deadline of each unary call
  std::string token_file;                  // bearer token for servers started with --auth-token-file
  bool tls = false;                        // TLS with the system's root certificates ...
  std::string tls_ca;                      // ... or with this PEM root certificate
  bool json = false;                       // machine-readable output
};

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// A context with the bearer token (if any) and, when `deadline`, the
// unary-call deadline.
std::unique_ptr<grpc::ClientContext> MakeContext(const ConnectionOptions& options, bool deadline = true);

// "CODE: message" for a failed call, e.g. "UNAVAILABLE: failed to connect".
std::string Describe(const grpc::Status& status);

// Prints a failed call as "asr-client: <what>: CODE: message" and returns 1.
int ReportFailure(const std::string& what, const grpc::Status& status);

// One protobuf message as a single JSON line (field names as in the .proto).
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace asr::client
