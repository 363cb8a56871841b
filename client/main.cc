// asr-client: command-line client of asr-server.
//   asr-client [--server HOST:PORT] [--timeout S] COMMAND [options]
// Exit codes: 0 success, 1 the server or request failed, 2 usage error.
#include "CLI/CLI.hpp"
#include "build_info.h"
#include "client/commands.h"

int main(int argc, char** argv) {
  asr::client::ConnectionOptions conn;
  CLI::App app{"asr-client " ASR_VERSION ": command-line client of asr-server"};
  app.set_version_flag("--version", std::string(ASR_VERSION " (" ASR_GIT_COMMIT ")"));
  app.add_option("--server", conn.server, "asr-server address host:port")
      ->envname("ASR_SERVER")->capture_default_str();
  app.add_option("--timeout", conn.timeout_seconds, "deadline of each call, seconds")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.require_subcommand(1);
  int exit_code = 0;
  asr::client::AddHealthCommand(app, conn, &exit_code);
  asr::client::AddInfoCommand(app, conn, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
