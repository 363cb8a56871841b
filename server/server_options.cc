#include "server/server_options.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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
  if (!database.empty() && !absl::StartsWith(database, "postgresql://") &&
      !absl::StartsWith(database, "postgres://")) {
    return absl::InvalidArgumentError(
        "database: not a postgresql:// URI (leave it empty for SQLite in state_dir)");
  }
  const size_t at = database.find('@');
  const bool password_in_authority =
      at != std::string::npos &&
      database.substr(0, at).find(':', database.find("://") + 3) != std::string::npos;
  if (password_in_authority || database.find("password=") != std::string::npos) {
    return absl::InvalidArgumentError(
        "database: the URI holds a password; give it in database_password_file or ASR_DATABASE_PASSWORD");
  }
  if (threads < 0 || threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("threads: ", threads, " not in [0, 1024]"));
  }
  static constexpr std::array<const char*, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                         "error", "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok |= (log_level == l);
  if (!level_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_level: '", log_level, "' is not one of trace|debug|info|warn|error|critical|off"));
  }
  if (!(shutdown_grace_seconds >= 0 && shutdown_grace_seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shutdown_grace_seconds: ", shutdown_grace_seconds, " not in [0, 3600]"));
  }
  if (!(max_connection_age_seconds >= 0 && max_connection_age_seconds <= 30 * 86400)) {
    return absl::InvalidArgumentError("max_connection_age_seconds: not in [0, 2592000]");
  }
  if (!(replica_lease_seconds >= 3 && replica_lease_seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica_lease_seconds: ", replica_lease_seconds, " not in [3, 3600]"));
  }
  if (replica_name.size() > 253) {
    return absl::InvalidArgumentError("replica_name: longer than 253 characters (a DNS name)");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError("tls_cert: TLS needs both tls_cert and tls_key");
  }
  if (max_message_mb < 1 || max_message_mb > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("max_message_mb: ", max_message_mb, " not in [1, 1024]"));
  }
  if (absl::Status st = training.Validate(); !st.ok()) return st;
  return recognition.Validate();
}

absl::Status TrainingServiceOptions::Validate() const {
  if (max_concurrent_jobs < 1 || max_concurrent_jobs > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_concurrent_jobs: ", max_concurrent_jobs, " not in [1, 64]"));
  }
  if (max_upload_mb < 1) return absl::InvalidArgumentError("max_upload_mb: must be >= 1");
  if (max_upload_files < 1) return absl::InvalidArgumentError("max_upload_files: must be >= 1");
  if (max_processes_per_job < 1 || max_processes_per_job > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_processes_per_job: ", max_processes_per_job, " not in [1, 1024]"));
  }
  if (max_job_failures < 1 || max_job_failures > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_job_failures: ", max_job_failures, " not in [1, 100]"));
  }
  if (!(worker_stop_grace_seconds > 0 && worker_stop_grace_seconds <= 3600)) {
    return absl::InvalidArgumentError("worker_stop_grace_seconds: not in (0, 3600]");
  }
  if (!(collective_timeout_seconds >= 1 && collective_timeout_seconds <= 86400)) {
    return absl::InvalidArgumentError("collective_timeout_seconds: not in [1, 86400]");
  }
  if (runner != "local" && runner != "slurm") {
    return absl::InvalidArgumentError(absl::StrCat("runner: '", runner, "' is not local or slurm"));
  }
  if (job_memory_limit_mb < 0) return absl::InvalidArgumentError("job_memory_limit_mb: must be >= 0");
  return absl::OkStatus();
}

absl::Status RecognitionServiceOptions::Validate() const {
  if (max_streams < 1 || max_streams > 100000)
    return absl::InvalidArgumentError("max_streams: not in [1, 100000]");
  if (!(max_stream_seconds > 0)) return absl::InvalidArgumentError("max_stream_seconds: must be > 0");
  if (!(stream_idle_timeout_seconds > 0))
    return absl::InvalidArgumentError("stream_idle_timeout_seconds: must be > 0");
  if (!(stream_backlog_seconds >= 1 && stream_backlog_seconds <= 86400))
    return absl::InvalidArgumentError("stream_backlog_seconds: not in [1, 86400]");
  if (max_batch < 1 || max_batch > 4096) return absl::InvalidArgumentError("max_batch: not in [1, 4096]");
  if (!(max_batch_wait_ms >= 0 && max_batch_wait_ms <= 1000)) {
    return absl::InvalidArgumentError("max_batch_wait_ms: not in [0, 1000]");
  }
  if (recognize_workers < 1 || recognize_workers > 64)
    return absl::InvalidArgumentError("recognize_workers: not in [1, 64]");
  for (const std::string& m : import_models) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      return absl::InvalidArgumentError(absl::StrCat("import_models: '", m, "' is not name=path"));
    }
  }
  return absl::OkStatus();
}

}  // namespace asr::server
