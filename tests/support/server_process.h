// Test support: the real asr-server binary on free loopback ports, with its
// own temporary state directory and data root.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace asr::testing {

class ServerProcess {
 public:
  // Starts build/bin/asr-server with --listen on `grpc_port` (0: a free
  // one) and --metrics-listen on a free port, and waits (up to 120 s) for
  // its ready file. `reuse_dir` restarts on an earlier server's files.
  // "--data-root DIR" among extra_args replaces the server's own data root.
  // Returns nullptr if it exited or never became ready; *why then holds its
  // log.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra_args = {},
                                              std::string* why = nullptr, const std::string& reuse_dir = "",
                                              int grpc_port = 0);
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  // Runs build/bin/asr-client --server address() ARGS...
  ProcessResult Client(const std::vector<std::string>& args, double timeout_seconds = 120) const;

  std::string dir;        // temporary root of this server's files
  std::string state_dir;  // dir/state
  std::string data_root;  // dir/data
  int grpc_port = 0;
  int metrics_port = 0;
  std::unique_ptr<ChildProcess> process;
};

}  // namespace asr::testing
