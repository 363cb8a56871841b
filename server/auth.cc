#include "server/auth.h"

#include <fstream>
#include <sstream>

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
  const auto& md = context->client_metadata();
  const auto it = md.find("authorization");
  if (it == md.end()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
  const std::string got(it->second.data(), it->second.size());
  const std::string want = "Bearer " + token_;
  // Constant-time comparison.
  unsigned char diff = got.size() == want.size() ? 0 : 1;
  for (size_t i = 0; i < want.size(); ++i)
    diff |= static_cast<unsigned char>(want[i] ^ (i < got.size() ? got[i] : 0));
  if (diff != 0) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token");
  return grpc::Status::OK;
}

}  // namespace asr::server
