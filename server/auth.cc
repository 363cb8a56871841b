#include "server/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace asr::server {

absl::StatusOr<Authenticator> Authenticator::FromFile(const std::string& path) {
  if (path.empty()) return Authenticator();
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("auth_token_file: cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  const size_t a = token.find_first_not_of(" \t\r\n"), b = token.find_last_not_of(" \t\r\n");
  if (a == std::string::npos)
    return absl::InvalidArgumentError(absl::StrCat("auth_token_file: '", path, "' is empty"));
  return Authenticator(token.substr(a, b - a + 1));
}

grpc::Status Authenticator::Check(const grpc::CallbackServerContext* context) const {
  if (token_.empty()) return grpc::Status::OK;
  return CheckMetadata(context->client_metadata());
}

grpc::Status Authenticator::CheckMetadata(const Metadata& metadata) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
  const absl::string_view got(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (got.size() < kScheme.size() || !absl::EqualsIgnoreCase(got.substr(0, kScheme.size()), kScheme)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "authorization is not 'Bearer <token>'");
  }
  const absl::string_view presented = got.substr(kScheme.size());
  // Every byte of the token is compared whatever the presented value; a
  // length difference alone is a mismatch.
  unsigned char diff = presented.size() == token_.size() ? 0 : 1;
  for (size_t i = 0; i < token_.size(); ++i)
    diff |= static_cast<unsigned char>(token_[i] ^ (i < presented.size() ? presented[i] : 0));
  if (diff != 0) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token");
  return grpc::Status::OK;
}

}  // namespace asr::server
