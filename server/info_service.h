// asr.v1.InfoService: what this server is (version, build, compute setup).
#pragma once

#include <chrono>

#include "asr/v1/info.grpc.pb.h"
#include "server/auth.h"

namespace asr::server {

class InfoService final : public asr::v1::InfoService::CallbackService {
 public:
  // `auth` (not owned, may be null) outlives the service.
  explicit InfoService(const Authenticator* auth);
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const asr::v1::GetServerInfoRequest* request,
                                          asr::v1::ServerInfo* response) override;

 private:
  const Authenticator* auth_;
  const std::chrono::steady_clock::time_point started_;
};

}  // namespace asr::server
