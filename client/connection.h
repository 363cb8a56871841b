// How asr-client reaches a server: address, TLS, bearer token, per-call
// deadline, and the channel and contexts built from them. Shared by every
// subcommand.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
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

// Calls the unary `rpc` of `stub` with `request` under the unary deadline.
// On failure reports "asr-client: <what>: CODE: message" and returns 1;
// otherwise prints the response, as one JSON line with --json and through
// `print(response)` without, and returns 0 (the exit code either way).
template <class Stub, class Request, class Response, class Print>
int CallAndPrint(const ConnectionOptions& conn, const std::string& what, Stub& stub,
                 grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
                 const Request& request, Print print) {
  auto ctx = MakeContext(conn);
  Response response;
  const grpc::Status st = (stub.*rpc)(ctx.get(), request, &response);
  if (!st.ok()) return ReportFailure(what, st);
  if (conn.json) {
    std::printf("%s\n", ToJsonLine(response).c_str());
  } else {
    print(response);
  }
  return 0;
}

}  // namespace asr::client
