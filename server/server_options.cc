#include "server/server_options.h"

#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asr::server {

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) return false;
  *host = h;
  *port = p;
  return !h.empty();
}

absl::Status ServerOptions::Validate() const {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("listen: '", listen, "' is not host:port"));
  }
  if (!metrics_listen.empty() && !SplitHostPort(metrics_listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: '", metrics_listen, "' is not host:port"));
  }
  if (state_dir.empty()) return absl::InvalidArgumentError("state_dir: must not be empty");
  if (data_root.empty()) return absl::InvalidArgumentError("data_root: must not be empty");
  if (threads < 0 || threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("threads: ", threads, " not in [0, 1024]"));
  }
  static constexpr std::array<const char*, 7> kLevels = {"trace", "debug", "info", "warn",
                                                         "error", "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok |= (log_level == l);
  if (!level_ok) {
    return absl::InvalidArgumentError(absl::StrCat("log_level: '", log_level,
                                                   "' is not one of trace|debug|info|warn|error|critical|off"));
  }
  if (!(shutdown_grace_seconds >= 0 && shutdown_grace_seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shutdown_grace_seconds: ", shutdown_grace_seconds, " not in [0, 3600]"));
  }
  return absl::OkStatus();
}

std::string ServerOptions::ToString() const {
  return absl::StrCat("listen=", listen, "\nmetrics_listen=", metrics_listen,
                      "\nstate_dir=", state_dir, "\ndata_root=", data_root,
                      "\nthreads=", threads, "\nlog_level=", log_level,
                      "\nshutdown_grace_seconds=", shutdown_grace_seconds,
                      "\nready_file=", ready_file, "\n");
}

}  // namespace asr::server
