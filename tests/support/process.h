// Test support: running the project's real binaries as child processes,
// reading files, temporary directories and plain HTTP GETs on loopback.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asr::testing {

// Absolute path of an executable built into build/bin.
std::string BinPath(const std::string& name);

// A new empty directory under $TMPDIR (or /tmp), removed with its contents
// when the test process exits (kept if ASR_KEEP_TEST_DIRS is set and not 0).
std::string MakeTempDir(const std::string& prefix = "asr-test");

std::string ReadFileOrEmpty(const std::string& path);

struct ProcessResult {
  int exit_code = -1;      // exit status, or 128 + signal if killed
  bool timed_out = false;  // killed after the timeout
  std::string out;         // captured stdout
  std::string err;         // captured stderr
};

// Runs argv to completion (SIGKILL after timeout_seconds), capturing output.
ProcessResult RunProcess(const std::vector<std::string>& argv, double timeout_seconds = 60,
                         const std::vector<std::string>& extra_env = {});

// A background child process with stdout+stderr redirected to a log file.
// Killed with SIGKILL on destruction if still running.
class ChildProcess {
 public:
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv,
                                             const std::string& log_path,
                                             const std::vector<std::string>& extra_env = {});
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  bool Signal(int sig);
  // Exit code (128 + signal if killed), or nullopt if still running after
  // `seconds`.
  std::optional<int> WaitFor(double seconds);
  bool running();
  std::string log() const { return ReadFileOrEmpty(log_path_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// A TCP port on loopback that was free a moment ago (0 if none could be had).
int FreePort();

// GET http://host:port/path over plain HTTP/1.0; returns "" on any failure.
// *status receives the HTTP status code (0 on failure) when non-null.
std::string HttpGet(const std::string& host, int port, const std::string& path, int* status = nullptr);

}  // namespace asr::testing
