#include "tests/support/server_process.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "nlohmann/json.hpp"

namespace asr::testing {

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::vector<std::string>& extra_args,
                                                    std::string* why, const std::string& reuse_dir,
                                                    int grpc_port) {
  auto s = std::make_unique<ServerProcess>();
  s->dir = reuse_dir.empty() ? MakeTempDir("asr-server") : reuse_dir;
  s->state_dir = s->dir + "/state";
  s->data_root = s->dir + "/data";
  // A --data-root among extra_args (a root shared by replicas) replaces ours.
  for (size_t i = 0; i + 1 < extra_args.size(); ++i) {
    if (extra_args[i] == "--data-root") s->data_root = extra_args[i + 1];
  }
  std::filesystem::create_directories(s->data_root);
  const std::string ready = s->dir + "/ready.json";
  std::filesystem::remove(ready);
  std::vector<std::string> argv = {BinPath("asr-server"),
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(grpc_port),
                                   "--metrics-listen",
                                   "127.0.0.1:0",
                                   "--state-dir",
                                   s->state_dir,
                                   "--data-root",
                                   s->data_root,
                                   "--ready-file",
                                   ready,
                                   "--log-level",
                                   "debug",
                                   "--threads",
                                   "1"};
  for (size_t i = 0; i < extra_args.size(); ++i) {
    if (extra_args[i] == "--data-root") {
      ++i;
    } else {
      argv.push_back(extra_args[i]);
    }
  }
  s->process = ChildProcess::Start(argv, s->dir + "/server.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = ReadFileOrEmpty(ready);
    if (!text.empty()) {
      const auto j = nlohmann::json::parse(text);
      s->grpc_port = j.at("grpc_port").get<int>();
      s->metrics_port = j.at("metrics_port").get<int>();
      return s;
    }
    if (!s->process->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (why) *why = s->process->log();
  return nullptr;
}

ProcessResult ServerProcess::Client(const std::vector<std::string>& args, double timeout_seconds) const {
  std::vector<std::string> argv = {BinPath("asr-client"), "--server", address()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, timeout_seconds);
}

}  // namespace asr::testing
