// asr-server's core: the gRPC server (health, reflection, asr.v1 services)
// and the Prometheus endpoint, started together and shut down in order.
#pragma once

#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server_options.h"

namespace grpc {
class Server;
}

namespace asr::server {

class InfoService;
class MetricsEndpoint;

class Server {
 public:
  // Validates `options`, binds both listeners and starts serving with health
  // status SERVING. Errors name the option that failed (e.g. a busy port).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const;

  // Marks health NOT_SERVING, stops accepting RPCs, gives in-flight RPCs
  // `grace` to finish, then cancels them. Idempotent; thread-safe.
  void Shutdown(absl::Duration grace);

 private:
  Server() = default;
  ServerOptions options_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<InfoService> info_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

}  // namespace asr::server
