// /metrics follows Prometheus conventions: `promtool check metrics` (Debian's
// prometheus package) accepts it, and a real Prometheus server started by
// this test scrapes it. Its values are what the test itself did: audio
// seconds sent, finals made, calls answered, per-job series while the job
// runs and gone after.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

// Runs a short training job so the training families have samples.
std::unique_ptr<ServerProcess> ServerWithAFinishedJob(std::string* job = nullptr) {
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
  if (job) *job = FirstLine(train.out);
  return server;
}

TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  auto server = ServerWithAFinishedJob();
  ASSERT_NE(server, nullptr);
  const std::string text = HttpGet("127.0.0.1", server->metrics_port, "/metrics");
  for (const char* name : {"asr_training_jobs{state=\"succeeded\"} 1", "asr_training_steps_total 12",
                           "asr_checkpoint_write_duration_seconds_count", "asr_dataset_upload_bytes_total",
                           "asr_training_skipped_steps_total 0", "process_resident_memory_bytes"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << " missing in\n" << text;
  }
  // The job has ended: its per-job series are gone, all of them.
  for (const char* name :
       {"asr_training_loss{", "asr_training_learning_rate{", "asr_training_frames_per_second{",
        "asr_training_dev_cer_ratio{", "asr_training_dev_wer_ratio{"}) {
    EXPECT_EQ(text.find(name), std::string::npos) << name << " outlived its job in\n" << text;
  }
  const std::string path = MakeTempDir() + "/metrics.txt";
  std::ofstream(path) << text;
  const ProcessResult r = RunProcess({"/bin/sh", "-c", "promtool check metrics < " + path});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool lint findings";
}

double Value(const ServerProcess& s, const std::string& series) {
  const std::string v = Metric(s, series);
  EXPECT_NE(v, "") << series << " is missing";
  return v.empty() ? std::nan("") : std::stod(v);
}

TEST(MetricsTest, RecognitionValuesAreWhatTheClientDid) {
  std::string job;
  auto server = ServerWithAFinishedJob(&job);
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Client({"publish", job, "digits"}).exit_code, 0);
  int rate = 0;
  const std::string file = TestFiles()[0];
  const std::string pcm = Pcm16(file, &rate);
  const double seconds = static_cast<double>(pcm.size()) / 2 / rate;
  // One stream, no endpointing: its only final comes at the end of input.
  const StreamResult r = RunStream(*server, Chunks(Linear16Config(rate), pcm, 3200));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(Value(*server, "asr_streams_total{code=\"OK\"}"), 1);
  EXPECT_EQ(Value(*server, "asr_streams_active"), 0);
  EXPECT_EQ(Value(*server, "asr_stream_final_latency_seconds_count"), 1) << "the end-of-stream final";
  EXPECT_NEAR(Value(*server, "asr_audio_processed_seconds_total"), seconds, 0.05);
  const double steps = Value(*server, "asr_inference_step_duration_seconds_count");
  EXPECT_GE(steps, seconds / 0.03 - 2) << "one batched step per 30 ms output frame";
  const double rtf = Value(*server, "asr_recognition_real_time_factor");
  // All of it within one window: the inference time of every step over the audio.
  EXPECT_NEAR(rtf, Value(*server, "asr_inference_step_duration_seconds_sum") / seconds, 0.05 * rtf)
      << "inference seconds per audio second";
  EXPECT_GT(rtf, 0);
  // One unary call.
  asr::v1::RecognizeRequest req;
  req.mutable_config()->set_model("digits");
  req.set_audio(ReadFileOrEmpty(file));
  grpc::ClientContext ctx;
  asr::v1::RecognizeResponse resp;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(RecognitionStub(*server)->Recognize(&ctx, req, &resp).ok());
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(Value(*server, "asr_recognize_requests_total{code=\"OK\"}"), 1);
  EXPECT_EQ(Value(*server, "asr_recognize_duration_seconds_count"), 1);
  const double took = Value(*server, "asr_recognize_duration_seconds_sum");
  EXPECT_GT(took, 0);
  EXPECT_LE(took, wall) << "the server's figure lies within the client's";
  EXPECT_NEAR(Value(*server, "asr_audio_processed_seconds_total"), 2 * seconds, 0.1);
}

TEST(MetricsTest, PerJobSeriesLiveWhileTheirJobRuns) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  const ProcessResult train = server->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(100000)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string id = FirstLine(train.out);
  const std::string label = "{job=\"" + id + "\"}";
  // Validation runs at each epoch's end; the tiny corpus's epochs are short.
  EXPECT_TRUE(WaitUntil([&] { return !Metric(*server, "asr_training_dev_cer_ratio" + label).empty(); }, 300))
      << HttpGet("127.0.0.1", server->metrics_port, "/metrics");
  const double loss = Value(*server, "asr_training_loss" + label);
  EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
  EXPECT_GT(Value(*server, "asr_training_learning_rate" + label), 0);
  EXPECT_GT(Value(*server, "asr_training_frames_per_second" + label), 0);
  const double cer = Value(*server, "asr_training_dev_cer_ratio" + label);
  EXPECT_TRUE(cer >= 0 && cer <= 5) << cer;
  EXPECT_GE(Value(*server, "asr_training_dev_wer_ratio" + label), 0);
  EXPECT_EQ(Value(*server, "asr_training_jobs{state=\"running\"}"), 1);
  ASSERT_EQ(server->Client({"cancel", id}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      *server, id, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 120));
  const std::string text = HttpGet("127.0.0.1", server->metrics_port, "/metrics");
  EXPECT_EQ(text.find(label), std::string::npos) << "per-job series outlived their job:\n" << text;
  EXPECT_EQ(Value(*server, "asr_training_jobs{state=\"cancelled\"}"), 1);
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
