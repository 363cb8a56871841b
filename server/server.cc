#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "server/info_service.h"
#include "server/metrics.h"

namespace asr::server {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  std::unique_ptr<Server> s(new Server());
  s->options_ = options;

  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> metrics = MetricsEndpoint::Start(options.metrics_listen);
  if (!metrics.ok()) return metrics.status();
  s->metrics_ = std::move(*metrics);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT and a second server on a busy port
  // would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &s->grpc_port_);
  s->info_service_ = std::make_unique<InfoService>();
  builder.RegisterService(s->info_service_.get());
  s->grpc_server_ = builder.BuildAndStart();
  if (s->grpc_server_ == nullptr || s->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("listen: cannot serve gRPC on '", options.listen,
                                               "' (address in use or not local?)"));
  }
  s->grpc_server_->GetHealthCheckService()->SetServingStatus(true);
  return s;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

int Server::metrics_port() const { return metrics_->port(); }

void Server::Shutdown(absl::Duration grace) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || grpc_server_ == nullptr) return;
  shut_down_ = true;
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  grpc_server_->Wait();
}

}  // namespace asr::server
