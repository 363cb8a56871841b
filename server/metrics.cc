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
    m->exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
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
