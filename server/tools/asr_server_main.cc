// asr-server: trains and serves layer-normalized LSTM CTC acoustic models
// over gRPC. Options come from flags, an optional --config file (TOML/INI,
// same names as the flags) and ASR_* environment variables, in that order
// of precedence. SIGINT/SIGTERM: health NOT_SERVING, stop accepting work,
// exit 0 within the shutdown grace period.
#include <grpc/support/log.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "build_info.h"
#include "model/base/cli_errors.h"
#include "model/base/fields_cli.h"
#include "model/compute_threads.h"
#include "server/server.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using asr::server::ServerOptions;

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
               ": trains and serves LN-LSTM CTC speech recognition models over gRPC",
               "asr-server"};
  app.set_version_flag("--version", std::string(ASR_VERSION " (" ASR_GIT_COMMIT ")"));
  app.set_config("--config", "", "TOML/INI file with the same option names as the flags");
  asr::fields::AddFlags(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return asr::ReportParseError(app, e, argc, argv);
  }
  if (absl::Status st = options.Validate(); !st.ok()) {
    std::fprintf(stderr, "asr-server: %s\n%s", std::string(st.message()).c_str(), app.help().c_str());
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("asr");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  // gRPC core's own log (a failed bind is a multi-line dump) shows only with
  // --log-level debug: the server reports failures itself, in one line.
  gpr_set_log_function(
      [](gpr_log_func_args* a) { spdlog::debug("grpc: {} ({}:{})", a->message, a->file, a->line); });
  gpr_set_log_verbosity(spdlog::get_level() <= spdlog::level::debug ? GPR_LOG_SEVERITY_DEBUG
                                                                    : GPR_LOG_SEVERITY_ERROR);

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // drain: health NOT_SERVING, keep serving (a Kubernetes preStop)
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
  while (sigwait(&signals, &sig) == 0 && sig == SIGUSR1) {
    spdlog::info("received SIGUSR1: health NOT_SERVING; serving on until SIGTERM");
    (*server)->Drain();
  }
  spdlog::info("received {}, shutting down (grace {} s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
               options.shutdown_grace_seconds);
  (*server)->Shutdown(absl::Seconds(options.shutdown_grace_seconds));
  server->reset();
  spdlog::info("stopped");
  return 0;
}
