// asr-server's core: the durable state (job store, model registry), the
// training job manager, the gRPC server (health, reflection, asr.v1
// services) and the Prometheus endpoint, started together and shut down in
// order.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server_options.h"

namespace grpc {
class Server;
class ServerCredentials;
}  // namespace grpc
namespace asr {
class StreamBatcher;
}

namespace asr::server {

class Authenticator;
class InfoService;
class JobManager;
class JobStore;
class MetricsEndpoint;
class ModelRegistry;
class RecognitionMetrics;
class RecognitionService;
class Runner;
class TrainingMetrics;
class TrainingService;

class Server {
 public:
  // Validates `options`, opens the state directory, binds both listeners,
  // resumes interrupted training jobs and starts serving with health status
  // SERVING. Errors name the option that failed (e.g. a busy port).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const;

  // HTTP/2 receive window per stream (no BDP growth): the most gRPC
  // buffers for one call the server is not reading, bytes.
  static constexpr int kStreamWindowBytes = 1 << 20;

  // Marks health NOT_SERVING and goes on serving, so that load balancers
  // and Kubernetes readiness move new calls elsewhere before Shutdown.
  // Thread-safe.
  void Drain();

  // Marks health NOT_SERVING, stops accepting RPCs, checkpoints running
  // jobs (they resume at the next start), gives in-flight RPCs `grace` to
  // finish, then cancels them. Idempotent; thread-safe.
  void Shutdown(absl::Duration grace);

 private:
  Server();
  // Start()'s parts: the job manager and the services over the store and
  // registry; the gRPC server on options_.listen; the --import-model files.
  void CreateServices();
  absl::Status Serve(const std::shared_ptr<grpc::ServerCredentials>& creds);
  absl::Status ImportModels();
  ServerOptions options_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<ModelRegistry> models_;
  std::unique_ptr<TrainingMetrics> training_metrics_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<RecognitionMetrics> recognition_metrics_;
  std::unique_ptr<StreamBatcher> batcher_;
  std::unique_ptr<InfoService> info_service_;
  std::unique_ptr<TrainingService> training_service_;
  std::unique_ptr<RecognitionService> recognition_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
  // Every 2 s: can the job store be reached? The health of
  // "asr.v1.TrainingService" follows (recognition, served from loaded
  // models, keeps the server's overall health).
  void WatchDatabase();
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;  // guarded by watch_mu_
  std::thread database_watch_;
};

}  // namespace asr::server
