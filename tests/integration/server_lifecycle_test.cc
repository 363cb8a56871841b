// The real asr-server and asr-client over loopback: start, health, metrics,
// SIGTERM, bad flags, server reflection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/support/reflection_list.grpc.pb.h"
#include "tests/support/server_process.h"

namespace asr::testing {
namespace {

TEST(ServerLifecycleTest, ServesHealthAndMetricsThenStopsCleanlyOnSigterm) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;

  ProcessResult health = server->Client({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");

  ProcessResult info = server->Client({"info"});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("libtorch"), std::string::npos);

  int http_status = 0;
  const std::string metrics = HttpGet("127.0.0.1", server->metrics_port, "/metrics", &http_status);
  EXPECT_EQ(http_status, 200);
  EXPECT_NE(metrics.find("asr_build_info{"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("process_resident_memory_bytes"), std::string::npos);
  EXPECT_NE(metrics.find("process_cpu_seconds_total"), std::string::npos);

  // SIGUSR1 drains (a Kubernetes preStop): health NOT_SERVING, calls still served.
  ASSERT_TRUE(server->process->Signal(SIGUSR1));
  ProcessResult draining;
  for (int i = 0; i < 100 && (draining = server->Client({"health"})).out != "NOT_SERVING\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(draining.out, "NOT_SERVING\n") << draining.err;
  EXPECT_EQ(server->Client({"info"}).exit_code, 0) << "a draining server still serves";

  ASSERT_TRUE(server->process->Signal(SIGTERM));
  const auto code = server->process->WaitFor(30);
  ASSERT_TRUE(code.has_value()) << "server did not exit within 30 s of SIGTERM";
  EXPECT_EQ(*code, 0) << server->process->log();
  EXPECT_NE(server->process->log().find("received SIGTERM"), std::string::npos);

  ProcessResult after = server->Client({"--timeout", "2", "health"}, 30);
  EXPECT_NE(after.exit_code, 0);
  EXPECT_NE(after.err.find("UNAVAILABLE"), std::string::npos) << after.err;
}

// The services a server lists through reflection (what grpcurl shows), or
// the status of the failed call.
grpc::Status ListServices(const ServerProcess& server, std::set<std::string>* names) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("*");
  stream->Write(req);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  while (stream->Read(&resp)) {
    for (const auto& s : resp.list_services_response().service()) names->insert(s.name());
  }
  return stream->Finish();
}

TEST(ServerLifecycleTest, ReflectionListsEveryService) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  std::set<std::string> names;
  const grpc::Status st = ListServices(*server, &names);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (const char* s : {"asr.v1.InfoService", "asr.v1.TrainingService", "asr.v1.RecognitionService",
                        "grpc.health.v1.Health"}) {
    EXPECT_EQ(names.count(s), 1u) << s;
  }
}

TEST(ServerLifecycleTest, SigintAlsoStopsWithExitZero) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  ASSERT_TRUE(server->process->Signal(SIGINT));
  const auto code = server->process->WaitFor(30);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(ServerLifecycleTest, BadFlagsPrintUsageAndExitTwo) {
  ProcessResult r = RunProcess({BinPath("asr-server"), "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE((r.out + r.err).find("--no-such-flag"), std::string::npos) << r.out << r.err;

  r = RunProcess({BinPath("asr-server"), "--threads", "many"});
  EXPECT_EQ(r.exit_code, 2);

  r = RunProcess({BinPath("asr-server"), "--listen", "nowhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("listen"), std::string::npos) << r.err;

  r = RunProcess({BinPath("asr-client")});
  EXPECT_EQ(r.exit_code, 2);
  r = RunProcess({BinPath("asr-client"), "health", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(ServerLifecycleTest, BusyPortIsAClearErrorNotACrash) {
  std::string why;
  auto first = ServerProcess::Start({}, &why);
  ASSERT_NE(first, nullptr) << why;
  const std::string dir = MakeTempDir();
  ProcessResult r = RunProcess({BinPath("asr-server"), "--listen", first->address(), "--metrics-listen", "",
                                "--state-dir", dir + "/s", "--data-root", dir + "/d"},
                               60);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(first->address()), std::string::npos) << r.err;
}

TEST(ServerLifecycleTest, ClientReportsUnreachableServer) {
  ProcessResult r =
      RunProcess({BinPath("asr-client"), "--server", "127.0.0.1:1", "--timeout", "2", "health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("health check of 127.0.0.1:1 failed"), std::string::npos) << r.err;
}

TEST(ServerLifecycleTest, ReadsOptionsFromConfigFileAndEnvironment) {
  const std::string dir = MakeTempDir();
  {
    std::ofstream cfg(dir + "/server.toml");
    cfg << "listen = \"127.0.0.1:0\"\nmetrics-listen = \"\"\nlog-level = \"debug\"\n";
  }
  auto proc = ChildProcess::Start({BinPath("asr-server"), "--config", dir + "/server.toml", "--state-dir",
                                   dir + "/s", "--data-root", dir + "/d", "--ready-file", dir + "/ready"},
                                  dir + "/log", {"ASR_THREADS=1"});
  for (int i = 0; i < 6000 && ReadFileOrEmpty(dir + "/ready").empty() && proc->running(); ++i) {
    usleep(10000);
  }
  const std::string ready = ReadFileOrEmpty(dir + "/ready");
  ASSERT_FALSE(ready.empty()) << proc->log();
  EXPECT_NE(ready.find("\"metrics_port\":0"), std::string::npos) << ready;  // disabled by the file
  EXPECT_NE(proc->log().find("1 compute thread(s)"), std::string::npos) << proc->log();
  EXPECT_NE(proc->log().find("options:"), std::string::npos) << "log-level debug from the file not applied";
  proc->Signal(SIGTERM);
  EXPECT_EQ(proc->WaitFor(30).value_or(-1), 0);
}

}  // namespace
}  // namespace asr::testing
