// asr-client subcommands. Each Add*Command registers its CLI11 subcommand
// and the callback that runs it; the callback stores the process exit code
// in *exit_code: 0 success, 1 the server or the request failed (or the
// watched job failed), 2 usage, 3 the watched job was cancelled.
#pragma once

#include "CLI/CLI.hpp"
#include "client/connection.h"

namespace asr::client {

void AddHealthCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code);
void AddInfoCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code);
void AddTrainingCommands(CLI::App& app, const ConnectionOptions& conn, int* exit_code);
void AddTranscribeCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code);
void AddBenchStreamCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code);

}  // namespace asr::client
