// The server's Prometheus endpoint: one registry, exposed over HTTP by
// prometheus-cpp's pull exposer at /metrics, with build information and
// process metrics always present. Later subsystems register their own
// families on registry().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace asr::server {

class ProcessCollector;

class MetricsEndpoint {
 public:
  // Starts the exposer on `address` (host:port; port 0 picks one). An empty
  // address keeps metrics in-process only (no HTTP endpoint).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address);
  ~MetricsEndpoint();

  // Shared with every subsystem; prometheus::Registry is thread-safe.
  prometheus::Registry& registry() { return *registry_; }
  // The bound port, or 0 when there is no HTTP endpoint.
  int port() const { return port_; }

  // HTTP worker threads (one per open connection) and how long a silent
  // connection keeps one: a scrape answers within a second while up to
  // kThreads - 1 idle connections are held.
  static constexpr int kThreads = 16;
  static constexpr int kRequestTimeoutMs = 1000;

 private:
  MetricsEndpoint() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ProcessCollector> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace asr::server
