#include "server/metrics.h"

#include "absl/strings/str_cat.h"
#include "build_info.h"
#include "prometheus/gauge.h"
#include "server/process_collector.h"

namespace asr::server {

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& address) {
  std::unique_ptr<MetricsEndpoint> m(new MetricsEndpoint());
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->process_ = std::make_shared<ProcessCollector>();
  prometheus::BuildGauge()
      .Name("asr_build_info")
      .Help("Build information of asr-server; the value is always 1.")
      .Register(*m->registry_)
      .Add({{"version", ASR_VERSION}, {"git_commit", ASR_GIT_COMMIT}, {"torch_version", ASR_TORCH_VERSION}})
      .Set(1);
  if (address.empty()) return m;
  try {
    // civetweb gives each connection a thread until it closes or stays
    // silent for request_timeout_ms: enough threads and a short timeout
    // that idle or half-open connections cannot hold scrapes off.
    m->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", std::to_string(kThreads),
                                 "request_timeout_ms", std::to_string(kRequestTimeoutMs)});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on '", address, "' (address in use?): ", e.what()));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->process_);
  const auto ports = m->exposer_->GetListeningPorts();
  m->port_ = ports.empty() ? 0 : ports.front();
  return m;
}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace asr::server
