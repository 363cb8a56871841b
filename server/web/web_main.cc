// asr-web: the browser gateway (gateway.h) as a program.
//   asr-web [--listen 127.0.0.1:8080] [--server 127.0.0.1:50051] [--tls-ca CA.pem]
//           [--threads 2] [--max-sessions 64] [--ready-file F]
// Pages: / (live transcription from the microphone or a dropped file) and
// /dashboard.html (training jobs and models). SIGINT/SIGTERM stop it.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "build_info.h"
#include "model/base/cli_errors.h"
#include "server/web/gateway.h"

int main(int argc, char** argv) {
  asr::web::GatewayOptions o;
  std::string ready_file;
  CLI::App app{"asr-web " ASR_VERSION ": web pages and a WebSocket/JSON gateway in front of asr-server",
               "asr-web"};
  app.set_version_flag("--version", std::string(ASR_VERSION " (" ASR_GIT_COMMIT ")"));
  app.add_option("--listen", o.listen, "HOST:PORT to serve HTTP on (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--server", o.server, "asr-server's gRPC address (or a balancer's)")->capture_default_str();
  app.add_option("--tls-ca", o.tls_ca, "PEM root certificate: TLS to asr-server (default: plaintext)");
  app.add_option("--threads", o.threads, "HTTP/WebSocket I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--max-sessions", o.max_sessions, "concurrent WebSockets; beyond it 503")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--timeout", o.unary_timeout_seconds, "seconds each /api call may take")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--allow-origin", o.allowed_origins,
                 "another origin (scheme://host[:port]) whose pages may use this gateway; repeatable "
                 "(default: only pages this gateway serves)");
  app.add_option("--ready-file", ready_file, "write {\"http_port\": P, \"pid\": N} here once serving");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return asr::ReportParseError(app, e, argc, argv);
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  auto gateway = asr::web::Gateway::Start(o);
  if (!gateway.ok()) {
    std::fprintf(stderr, "asr-web: %s\n", std::string(gateway.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "asr-web: serving http://%s:%d/ for %s\n",
               o.listen.substr(0, o.listen.rfind(':')).c_str(), (*gateway)->port(), o.server.c_str());
  if (!ready_file.empty()) {
    const std::string tmp = ready_file + ".tmp";
    std::ofstream(tmp) << "{\"http_port\":" << (*gateway)->port() << ",\"pid\":" << getpid() << "}\n";
    std::error_code ec;
    std::filesystem::rename(tmp, ready_file, ec);
    if (ec) {
      std::fprintf(stderr, "asr-web: --ready-file %s: %s\n", ready_file.c_str(), ec.message().c_str());
      return 1;
    }
  }
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "asr-web: signal %d, stopping\n", sig);
  (*gateway)->Shutdown();
  return 0;
}
