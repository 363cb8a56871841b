// asr-client: command-line client of asr-server.
//   asr-client [--server HOST:PORT] [--timeout S] COMMAND [options]
// Exit codes: 0 success, 1 the server or request failed (or a watched job
// failed), 2 usage error, 3 a watched job was cancelled.
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "build_info.h"
#include "client/commands.h"
#include "model/base/cli_errors.h"

namespace {

// --tls-ca must name a readable file holding a PEM certificate: gRPC would
// otherwise fall back to the system roots without a word.
const CLI::Validator kPemCertificateFile(
    [](std::string& path) -> std::string {
      std::ifstream in(path);
      if (!in) return "cannot read '" + path + "'";
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return "'" + path + "' holds no PEM certificate";
      }
      return "";
    },
    "PEM");

}  // namespace

int main(int argc, char** argv) {
  asr::client::ConnectionOptions conn;
  CLI::App app{"asr-client " ASR_VERSION ": command-line client of asr-server", "asr-client"};
  app.set_version_flag("--version", std::string(ASR_VERSION " (" ASR_GIT_COMMIT ")"));
  app.add_option(
         "--server", conn.server,
         "asr-server address host:port; dns:///host:port (or ipv4:A:P,B:Q) balances calls over every replica")
      ->envname("ASR_SERVER")
      ->capture_default_str();
  app.add_option("--timeout", conn.timeout_seconds, "deadline of each unary call, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--token-file", conn.token_file, "file with the server's bearer token (or set ASR_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_flag("--tls", conn.tls, "connect with TLS (system root certificates)");
  app.add_option("--tls-ca", conn.tls_ca, "connect with TLS trusting this PEM root certificate")
      ->check(kPemCertificateFile);
  app.add_flag("--json", conn.json, "machine-readable JSON output");
  app.require_subcommand(1);
  // Global options may also follow the command (`asr-client jobs --json`);
  // subcommands inherit this.
  app.fallthrough();
  int exit_code = 0;
  asr::client::AddHealthCommand(app, conn, &exit_code);
  asr::client::AddInfoCommand(app, conn, &exit_code);
  asr::client::AddTrainingCommands(app, conn, &exit_code);
  asr::client::AddTranscribeCommand(app, conn, &exit_code);
  asr::client::AddBenchStreamCommand(app, conn, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return asr::ReportParseError(app, e, argc, argv);
  }
  return exit_code;
}
