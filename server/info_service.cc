#include "server/info_service.h"

#include <torch/cuda.h>

#include "build_info.h"
#include "model/compute_threads.h"

namespace asr::server {

InfoService::InfoService() : started_(std::chrono::steady_clock::now()) {}

grpc::ServerUnaryReactor* InfoService::GetServerInfo(grpc::CallbackServerContext* context,
                                                     const asr::v1::GetServerInfoRequest* /*request*/,
                                                     asr::v1::ServerInfo* response) {
  response->set_version(ASR_VERSION);
  response->set_git_commit(ASR_GIT_COMMIT);
  response->set_torch_version(ASR_TORCH_VERSION);
  response->set_cuda_available(torch::cuda::is_available());
  response->set_compute_threads(TorchThreads());
  response->set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace asr::server
