#include "server/info_service.h"

#include <torch/cuda.h>

#include "build_info.h"
#include "model/compute_threads.h"

namespace asr::server {

InfoService::InfoService(const Authenticator* auth)
    : auth_(auth), started_(std::chrono::steady_clock::now()) {}

grpc::ServerUnaryReactor* InfoService::GetServerInfo(grpc::CallbackServerContext* context,
                                                     const asr::v1::GetServerInfoRequest* /*request*/,
                                                     asr::v1::ServerInfo* response) {
  auto* reactor = context->DefaultReactor();
  if (auth_ != nullptr) {
    if (grpc::Status st = auth_->Check(context); !st.ok()) {
      reactor->Finish(st);
      return reactor;
    }
  }
  response->set_version(ASR_VERSION);
  response->set_git_commit(ASR_GIT_COMMIT);
  response->set_torch_version(ASR_TORCH_VERSION);
  response->set_cuda_available(torch::cuda::is_available());
  response->set_compute_threads(TorchThreads());
  response->set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace asr::server
