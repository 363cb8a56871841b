// Configuration of asr-server: every option with its unit and default.
// Filled from flags, an optional TOML/INI config file and ASR_* environment
// variables (see server/tools/asr_server_main.cc); validated before anything starts.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace asr::server {

struct ServerOptions {
  // gRPC listening address, host:port. Port 0 picks a free port (written to
  // ready_file). Use 0.0.0.0:PORT only where the network is trusted (Docker).
  std::string listen = "127.0.0.1:50051";
  // Prometheus exposer address, host:port, serving /metrics; empty disables.
  std::string metrics_listen = "127.0.0.1:9464";
  // Directory for durable server state (job store, published models).
  std::string state_dir = "asr-state";
  // Directory that holds datasets; every path in a request is confined here.
  std::string data_root = "asr-data";
  // LibTorch intra-op + BLAS threads; 0 = auto (half the cores, at least 1).
  int threads = 0;
  // Log level: trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  // Seconds in-flight RPCs get to finish after SIGINT/SIGTERM before they
  // are cancelled; the process exits 0 after at most about this long.
  double shutdown_grace_seconds = 10.0;
  // If set, written atomically once serving: {"grpc_port":N,"metrics_port":M,"pid":P}.
  std::string ready_file;
  // Training jobs run at the same time (each uses `threads` compute threads).
  int max_concurrent_jobs = 1;
  // File holding a bearer token; when set every RPC but health needs it.
  std::string auth_token_file;
  // PEM certificate chain and private key; both set = TLS, neither = plaintext.
  std::string tls_cert, tls_key;
  // Largest gRPC message accepted, MiB.
  int max_message_mb = 16;
  // UploadDataset limits per dataset.
  int64_t max_upload_mb = 4096;
  int64_t max_upload_files = 200000;
  // Streaming recognition: concurrent streams (more get RESOURCE_EXHAUSTED),
  // audio per stream, seconds without a message before a stream is closed.
  int max_streams = 200;
  double max_stream_seconds = 3600;
  double stream_idle_timeout_seconds = 30;
  // Cross-stream batching: streams per batched LSTM step (1 = off) and how
  // long a ready input may wait for company, ms.
  int max_batch = 64;
  double max_batch_wait_ms = 5;
  // Threads serving unary Recognize.
  int recognize_workers = 2;
  // "name=path" model files to publish at start-up when `name` has no
  // version yet (e.g. a model shipped with a deployment).
  std::vector<std::string> import_models;

  // OK, or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
  // Every field as `name=value`, one per line.
  std::string ToString() const;
};

// Splits "host:port" (IPv6 as "[::1]:port"); false if malformed or the port
// is not in [0, 65535].
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace asr::server
