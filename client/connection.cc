#include "client/connection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "nlohmann/json.hpp"

namespace asr::client {
namespace {

namespace pb = google::protobuf;

using Json = nlohmann::ordered_json;  // fields in the proto's order

// proto3's JSON writes 64-bit integers as strings; for people and jq, this
// client writes them as numbers (exact up to 2^53, far beyond any step,
// byte count or sequence number here). Walks `j` along `d`.
void Int64sAsNumbers(const pb::Descriptor* d, Json& j) {
  if (!j.is_object() || d->file()->package() == "google.protobuf") return;  // Timestamp, Duration: strings
  auto number = [](Json& v) {
    if (v.is_string()) v = std::stoll(v.get<std::string>());
  };
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    auto it = j.find(f->name());
    if (it == j.end()) continue;
    if (f->is_map()) {
      const pb::FieldDescriptor* value = f->message_type()->map_value();
      for (auto& [key, v] : it->items()) {
        if (value->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
          Int64sAsNumbers(value->message_type(), v);
        } else if (value->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64) {
          number(v);
        }
      }
      continue;
    }
    const bool int64 = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64 ||
                       f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT64;
    const bool message = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
    std::vector<Json*> values;
    if (f->is_repeated()) {
      for (Json& e : *it) values.push_back(&e);
    } else {
      values.push_back(&*it);
    }
    for (Json* v : values) {
      if (int64) number(*v);
      if (message) Int64sAsNumbers(f->message_type(), *v);
    }
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // dns:///host:port resolves to every replica's address (and
  // ipv4:a:p,b:q lists them): spread calls over them; gRPC's default,
  // pick_first, would use one.
  for (const char* scheme : {"dns:", "ipv4:", "ipv6:"}) {
    if (options.server.rfind(scheme, 0) == 0) args.SetLoadBalancingPolicyName("round_robin");
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (options.tls || !options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) ssl.pem_root_certs = ReadFile(options.tls_ca);
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(options.server, creds, args);
}

std::unique_ptr<grpc::ClientContext> MakeContext(const ConnectionOptions& options, bool deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (deadline) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(static_cast<int64_t>(options.timeout_seconds * 1e6)));
  }
  std::string token;
  if (!options.token_file.empty()) token = Trim(ReadFile(options.token_file));
  if (const char* env = std::getenv("ASR_TOKEN"); token.empty() && env != nullptr) token = env;
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

std::string Describe(const grpc::Status& status) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  const char* name = (code >= 0 && code <= 16) ? kNames[code] : "UNKNOWN";
  return std::string(name) + ": " + status.error_message();
}

int ReportFailure(const std::string& what, const grpc::Status& status) {
  std::fprintf(stderr, "asr-client: %s: %s\n", what.c_str(), Describe(status).c_str());
  return 1;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, opts);
  Json j = Json::parse(out, nullptr, false);
  if (j.is_discarded()) return out;
  Int64sAsNumbers(message.GetDescriptor(), j);
  return j.dump();
}

}  // namespace asr::client
