// asr-server: trains and serves layer-normalized LSTM CTC acoustic models
// over gRPC. Options come from flags, an optional --config file (TOML/INI,
// same names as the flags) and ASR_* environment variables, in that order
// of precedence. SIGINT/SIGTERM: health NOT_SERVING, stop accepting work,
// exit 0 within the shutdown grace period.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "build_info.h"
#include "model/compute_threads.h"
#include "server/server.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using asr::server::ServerOptions;

void AddFlags(CLI::App& app, ServerOptions& o) {
  app.set_config("--config", "", "TOML/INI file with the same option names as the flags");
  app.add_option("--listen", o.listen, "gRPC address host:port (port 0 = any free port)")
      ->envname("ASR_LISTEN")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metrics_listen,
                 "Prometheus /metrics address host:port; empty disables")
      ->envname("ASR_METRICS_LISTEN")
      ->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "directory for job store and published models")
      ->envname("ASR_STATE_DIR")
      ->capture_default_str();
  app.add_option("--data-root", o.data_root, "directory holding datasets; request paths are confined to it")
      ->envname("ASR_DATA_ROOT")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "LibTorch + BLAS threads; 0 = half the cores")
      ->envname("ASR_THREADS")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|critical|off")
      ->envname("ASR_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--shutdown-grace", o.shutdown_grace_seconds, "seconds in-flight RPCs get after SIGTERM")
      ->envname("ASR_SHUTDOWN_GRACE")
      ->capture_default_str();
  app.add_option("--ready-file", o.ready_file,
                 "write {\"grpc_port\",\"metrics_port\",\"pid\"} JSON here once serving");
  app.add_option("--max-concurrent-jobs", o.max_concurrent_jobs, "training jobs run at the same time")
      ->envname("ASR_MAX_CONCURRENT_JOBS")
      ->capture_default_str();
  app.add_option("--auth-token-file", o.auth_token_file, "require this bearer token on every RPC but health")
      ->envname("ASR_AUTH_TOKEN_FILE");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain (with --tls-key: serve TLS)")
      ->envname("ASR_TLS_CERT");
  app.add_option("--tls-key", o.tls_key, "PEM private key")->envname("ASR_TLS_KEY");
  app.add_option("--max-message-mb", o.max_message_mb, "largest gRPC message accepted, MiB")
      ->envname("ASR_MAX_MESSAGE_MB")
      ->capture_default_str();
  app.add_option("--max-upload-mb", o.max_upload_mb, "largest dataset upload, MiB")
      ->envname("ASR_MAX_UPLOAD_MB")
      ->capture_default_str();
  app.add_option("--max-upload-files", o.max_upload_files, "most files in one dataset upload")
      ->envname("ASR_MAX_UPLOAD_FILES")
      ->capture_default_str();
  app.add_option("--max-streams", o.max_streams, "concurrent recognition streams")
      ->envname("ASR_MAX_STREAMS")
      ->capture_default_str();
  app.add_option("--max-stream-seconds", o.max_stream_seconds, "audio per stream, seconds")
      ->envname("ASR_MAX_STREAM_SECONDS")
      ->capture_default_str();
  app.add_option("--stream-idle-timeout", o.stream_idle_timeout_seconds,
                 "close streams idle this long, seconds")
      ->envname("ASR_STREAM_IDLE_TIMEOUT")
      ->capture_default_str();
  app.add_option("--max-batch", o.max_batch, "streams per batched LSTM step (1 = no cross-stream batching)")
      ->envname("ASR_MAX_BATCH")
      ->capture_default_str();
  app.add_option("--max-batch-wait-ms", o.max_batch_wait_ms, "how long a ready input waits for company, ms")
      ->envname("ASR_MAX_BATCH_WAIT_MS")
      ->capture_default_str();
  app.add_option("--recognize-workers", o.recognize_workers, "threads serving unary Recognize")
      ->envname("ASR_RECOGNIZE_WORKERS")
      ->capture_default_str();
  app.add_option("--import-model", o.import_models,
                 "NAME=PATH: publish this model file at start-up if NAME is new")
      ->envname("ASR_IMPORT_MODELS")
      ->delimiter(',');
}

// Writes the ready file atomically (write to .tmp, rename).
bool WriteReadyFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"grpc_port\":" << grpc_port << ",\"metrics_port\":" << metrics_port << ",\"pid\":" << getpid()
        << "}\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  CLI::App app{"asr-server " ASR_VERSION
               ": trains and serves LN-LSTM CTC speech recognition models over gRPC"};
  app.set_version_flag("--version", std::string(ASR_VERSION " (" ASR_GIT_COMMIT ")"));
  AddFlags(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (absl::Status st = options.Validate(); !st.ok()) {
    std::fprintf(stderr, "asr-server: %s\n%s", std::string(st.message()).c_str(), app.help().c_str());
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("asr");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const int threads = asr::ResolveComputeThreads(options.threads);
  asr::SetComputeThreads(threads);
  // Jobs train in this process: keep freed blocks as asr-train does (without
  // it every step's buffers are fresh mmaps, measured 14% slower per step).
  asr::ConfigureAllocatorForTraining();
  spdlog::info("asr-server {} ({}), LibTorch {}, {} compute thread(s), BLAS threads {}; {}", ASR_VERSION,
               ASR_GIT_COMMIT, ASR_TORCH_VERSION, threads, asr::BlasThreads(), asr::ComputeKernelsSummary());
  spdlog::debug("options:\n{}", options.ToString());

  auto server = asr::server::Server::Start(options);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return 1;
  }
  spdlog::info("serving gRPC on port {}; metrics on {}", (*server)->grpc_port(),
               (*server)->metrics_port() ? "port " + std::to_string((*server)->metrics_port()) + " /metrics"
                                         : std::string("(disabled)"));
  if (!options.ready_file.empty() &&
      !WriteReadyFile(options.ready_file, (*server)->grpc_port(), (*server)->metrics_port())) {
    spdlog::error("cannot write ready file '{}'", options.ready_file);
    return 1;
  }

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down (grace {} s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
               options.shutdown_grace_seconds);
  (*server)->Shutdown(absl::Seconds(options.shutdown_grace_seconds));
  server->reset();
  spdlog::info("stopped");
  return 0;
}
