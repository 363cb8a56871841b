// /metrics follows Prometheus conventions: `promtool check metrics` (Debian's
// prometheus package) accepts it, and a real Prometheus server started by
// this test scrapes it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/server_process.h"

namespace asr::testing {
namespace {

// Runs a short training job so the training families have samples.
std::unique_ptr<ServerProcess> ServerWithAFinishedJob() {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  EXPECT_NE(server, nullptr) << why;
  if (!server) return nullptr;
  const ProcessResult up = server->Client({"upload", TinyCorpus()});
  EXPECT_EQ(up.exit_code, 0) << up.err;
  const std::string id = up.out.substr(8, up.out.find(':') - 8);
  // Progress logged every 5 steps: the step counter still ends at 12.
  nlohmann::json config = TinyTrainingConfig(12);
  config["train"]["log_every_steps"] = 5;
  const ProcessResult train =
      server->Client({"train", "--config", WriteJson(config), "--dataset", id, "--watch"}, 300);
  EXPECT_EQ(train.exit_code, 0) << train.err;
  return server;
}

TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  auto server = ServerWithAFinishedJob();
  ASSERT_NE(server, nullptr);
  const std::string text = HttpGet("127.0.0.1", server->metrics_port, "/metrics");
  for (const char* name : {"asr_training_jobs{state=\"succeeded\"} 1", "asr_training_steps_total 12",
                           "asr_checkpoint_write_duration_seconds_count", "asr_dataset_upload_bytes_total",
                           "asr_training_dev_cer_ratio{job=", "asr_training_skipped_steps_total 0",
                           "process_resident_memory_bytes"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << " missing in\n" << text;
  }
  const std::string path = MakeTempDir() + "/metrics.txt";
  std::ofstream(path) << text;
  const ProcessResult r = RunProcess({"/bin/sh", "-c", "promtool check metrics < " + path});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool lint findings";
}

TEST(MetricsTest, ARealPrometheusServerScrapesIt) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  const std::string dir = MakeTempDir();
  const int port = FreePort();
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
         "  - job_name: asr\n    static_configs:\n      - targets: ['127.0.0.1:"
      << server->metrics_port << "']\n";
  auto prom = ChildProcess::Start(
      {"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
       "--storage.tsdb.path=" + dir + "/data", "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir + "/prometheus.log");
  nlohmann::json result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string body = HttpGet("127.0.0.1", port, "/api/v1/query?query=asr_build_info");
    if (!body.empty()) {
      result = nlohmann::json::parse(body, nullptr, false);
      if (!result.is_discarded() && result["status"] == "success" && !result["data"]["result"].empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_FALSE(result.is_null()) << prom->log();
  ASSERT_FALSE(result["data"]["result"].empty()) << result.dump() << prom->log();
  EXPECT_EQ(result["data"]["result"][0]["value"][1], "1");
  const std::string up = HttpGet("127.0.0.1", port, "/api/v1/query?query=up%7Bjob%3D%22asr%22%7D");
  EXPECT_NE(up.find("\"1\"]"), std::string::npos) << up;
}

}  // namespace
}  // namespace asr::testing
