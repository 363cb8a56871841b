// Training jobs run as worker processes that the server supervises: two
// ranks joined by Gloo; a rank killed with SIGKILL (the job restarts from
// its checkpoint); a worker crashing with SIGSEGV on every launch (the job
// ends FAILED with the reason after --max-job-failures); a hung worker
// that ignores SIGTERM (killed after --worker-stop-grace, job CANCELLED);
// resources beyond the server's limits or its memory limit; a cancel
// that must survive a crash of the server; leftovers of interrupted writes
// removed at start. The server serves on throughout.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

namespace fs = std::filesystem;

// Submits the tiny corpus job `cfg` with `processes` workers; returns its id.
std::string Submit(const ServerProcess& server, const nlohmann::json& cfg, int processes) {
  ProcessResult r = server.Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl",
                                   "--processes", std::to_string(processes), "--threads-per-process", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return FirstLine(r.out);
}

// The first event message containing `text`, or "".
std::string MessageWith(const ServerProcess& s, const std::string& job, const std::string& text) {
  for (const auto& e : AllEvents(s, job)) {
    if (e.message().find(text) != std::string::npos) return e.message();
  }
  return "";
}

// A server (with `flags`) running a long one-worker job past step 2; the
// job's id and its worker's pid.
struct RunningJob {
  std::unique_ptr<ServerProcess> server;
  std::string job;
  pid_t worker = -1;
};
RunningJob StartLongJob(const std::vector<std::string>& flags) {
  RunningJob r;
  std::string why;
  r.server = ServerProcess::Start(flags, &why);
  EXPECT_NE(r.server, nullptr) << why;
  if (!r.server) return r;
  PlaceCorpus(*r.server, "c");
  r.job = Submit(*r.server, TinyTrainingConfig(100000), 1);
  EXPECT_TRUE(WaitFor(
      *r.server, r.job, [](const asr::v1::Job& j) { return j.progress().step() >= 2; }, 120));
  const std::vector<pid_t> pids = WorkerPids(*r.server, r.job);
  EXPECT_EQ(pids.size(), 1u);
  if (pids.size() == 1) r.worker = pids[0];
  return r;
}

TEST(TrainingWorkersTest, TwoRanksTrainAndARankKilledWithSigkillRestartsFromTheCheckpoint) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  nlohmann::json cfg = TinyTrainingConfig(40);
  cfg["model"]["hidden_size"] = 96;  // steps long enough for the kill to land mid-run
  const std::string job = Submit(*server, cfg, 2);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.progress().step() >= 8; }, 300));
  const std::vector<pid_t> first = WorkerPids(*server, job);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(kill(first[1], SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 300))
      << GetJob(*server, job).DebugString();
  for (pid_t pid : first) EXPECT_TRUE(WaitUntilGone(pid, 10)) << "worker " << pid << " of attempt 1 lives on";
  const asr::v1::Job done = GetJob(*server, job);
  EXPECT_EQ(done.failures(), 1);
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.progress().step(), 40);
  EXPECT_EQ(done.resources().processes(), 2);
  const std::string failed = MessageWith(*server, job, "the workers failed");
  EXPECT_NE(failed.find("rank 1 (pid " + std::to_string(first[1]) + ") was killed by SIGKILL"),
            std::string::npos)
      << failed;
  EXPECT_NE(MessageWith(*server, job, "resuming from"), "");
  EXPECT_TRUE(server->process->running());
}

TEST(TrainingWorkersTest, AWorkerCrashingOnEveryLaunchEndsTheJobFailedWithTheReason) {
  std::string why;
  auto server = ServerProcess::Start({"--max-job-failures", "2"}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  const std::string job = Submit(*server, TinyTrainingConfig(100000), 1);
  std::vector<pid_t> crashed;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (crashed.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    const std::vector<pid_t> pids = WorkerPids(*server, job);
    if (pids.size() == 1 && std::find(crashed.begin(), crashed.end(), pids[0]) == crashed.end() &&
        kill(pids[0], SIGSEGV) == 0) {
      crashed.push_back(pids[0]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(crashed.size(), 2u);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::FAILED; }, 60))
      << GetJob(*server, job).DebugString();
  const asr::v1::Job failed = GetJob(*server, job);
  EXPECT_EQ(failed.failures(), 2);
  EXPECT_NE(failed.error().find("failed 2 times"), std::string::npos) << failed.error();
  EXPECT_NE(failed.error().find("was killed by SIGSEGV"), std::string::npos) << failed.error();
  // What `asr-client watch` shows its user.
  ProcessResult watch = server->Client({"watch", job});
  EXPECT_NE(watch.exit_code, 0);
  EXPECT_NE(watch.err.find("SIGSEGV"), std::string::npos) << watch.err;
  EXPECT_TRUE(server->process->running());
  // The queue goes on: the next job trains.
  const std::string next = Submit(*server, TinyTrainingConfig(3), 1);
  EXPECT_TRUE(WaitFor(
      *server, next, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 120));
}

TEST(TrainingWorkersTest, AHungWorkerIsKilledAfterTheStopGraceAndTheJobIsCancelled) {
  RunningJob r = StartLongJob({"--worker-stop-grace", "2"});
  ASSERT_GT(r.worker, 0);
  auto& server = r.server;
  const std::string& job = r.job;
  const std::vector<pid_t> pids = {r.worker};
  ASSERT_EQ(kill(pids[0], SIGSTOP), 0);  // hung: SIGTERM stays pending
  ASSERT_EQ(server->Client({"cancel", job}).exit_code, 0);
  const auto cancelled_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 30))
      << GetJob(*server, job).DebugString();
  EXPECT_GE(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(2));
  EXPECT_NE(MessageWith(*server, job, "did not stop after SIGTERM"), "");
  EXPECT_TRUE(WaitUntilGone(pids[0], 10));
}

TEST(TrainingWorkersTest, ResourcesBeyondTheServersLimitsAreInvalidArgument) {
  std::string why;
  auto server = ServerProcess::Start({"--max-processes-per-job", "2"}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  asr::v1::CreateTrainingJobRequest req;
  req.mutable_dataset()->set_train_manifest("c/train.jsonl");
  req.mutable_dataset()->set_dev_manifest("c/dev.jsonl");
  req.mutable_resources()->set_processes(3);
  grpc::ClientContext ctx;
  asr::v1::Job job;
  const grpc::Status st = TrainingStub(*server)->CreateTrainingJob(&ctx, req, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("resources.processes: 3 not in [1, 2]"), std::string::npos)
      << st.error_message();
}

TEST(TrainingWorkersTest, AJobTooBigForTheMemoryLimitIsRefusedNamingTheFields) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);  // the limit: this host's physical memory
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  // Before jobs ran in workers this config aborted the server, and every
  // restart resumed it and aborted again.
  nlohmann::json cfg = TinyTrainingConfig(5);
  cfg["model"]["hidden_size"] = 8192;
  cfg["model"]["num_layers"] = 16;
  ProcessResult r = server->Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("RESOURCE_EXHAUSTED"), std::string::npos) << r.err;
  for (const char* named :
       {"model.hidden_size", "model.num_layers", "data.max_batch_frames", "--job-memory-limit-mb"}) {
    EXPECT_NE(r.err.find(named), std::string::npos) << named << " in " << r.err;
  }
  ProcessResult jobs = server->Client({"--json", "jobs"});
  EXPECT_EQ(nlohmann::json::parse(jobs.out).value("jobs", nlohmann::json::array()).size(), 0u) << jobs.out;
}

TEST(TrainingWorkersTest, ACancelThatReturnedOkSurvivesAServerCrash) {
  RunningJob r = StartLongJob({});
  ASSERT_GT(r.worker, 0);
  auto& server = r.server;
  const std::string& job = r.job;
  const std::vector<pid_t> pids = {r.worker};
  std::string why;
  // A worker that cannot stop yet, so the server dies before the job is CANCELLED.
  ASSERT_EQ(kill(pids[0], SIGSTOP), 0);
  ASSERT_EQ(server->Client({"cancel", job}).exit_code, 0);
  server->process->Signal(SIGKILL);
  server->process->WaitFor(30);
  kill(pids[0], SIGCONT);  // it has its SIGTERMs: it checkpoints and exits
  ASSERT_TRUE(WaitUntilGone(pids[0], 60));
  auto restarted = ServerProcess::Start({}, &why, server->dir, server->grpc_port);
  ASSERT_NE(restarted, nullptr) << why;
  ASSERT_TRUE(WaitFor(
      *restarted, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 30))
      << GetJob(*restarted, job).DebugString();
  EXPECT_EQ(GetJob(*restarted, job).attempts(), 1) << "the cancelled job ran again";
}

TEST(TrainingWorkersTest, LeftoversOfInterruptedWritesAreRemovedAtStart) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  server->process->Signal(SIGTERM);
  ASSERT_EQ(server->process->WaitFor(30), std::optional<int>(0));
  const std::string ckpts = server->state_dir + "/jobs/job-000000000001/checkpoints";
  fs::create_directories(ckpts);
  fs::create_directories(server->data_root + "/datasets/.incoming-ds-1/audio");
  fs::create_directories(server->state_dir + "/models/digits");
  const std::vector<std::string> leftovers = {
      ckpts + "/.ckpt-000000000010.asrckpt.tmp-a1B2c3",
      server->state_dir + "/jobs/job-000000000001/.model.asrmodel.tmp-Zz9Yy8",
      server->state_dir + "/models/digits/.publishing.asrmodel",
      server->data_root + "/datasets/.incoming-ds-1/audio/a.wav",
  };
  const std::vector<std::string> kept = {ckpts + "/ckpt-000000000005.asrckpt",
                                         server->state_dir + "/models/digits/1.asrmodel",
                                         server->data_root + "/datasets/.hidden-but-not-ours"};
  for (const auto& p : leftovers) std::ofstream(p) << "partial";
  for (const auto& p : kept) std::ofstream(p) << "whole";
  auto restarted = ServerProcess::Start({}, &why, server->dir);
  ASSERT_NE(restarted, nullptr) << why;
  for (const auto& p : leftovers) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_FALSE(fs::exists(server->data_root + "/datasets/.incoming-ds-1"));
  for (const auto& p : kept) EXPECT_TRUE(fs::exists(p)) << p;
}

// A full state disk: nothing a client is told is lost. The cancel that
// cannot be made durable is an error to the client (the job runs on), the
// failed checkpoint and store writes are logged, and once space is back
// the cancel goes through. The state dir is a 48 MiB tmpfs (root only: CI
// runs as root).
TEST(TrainingWorkersTest, AFullStateDiskIsAnErrorNeverALostCancel) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  const std::string base = MakeTempDir("asr-fulldisk");
  fs::create_directories(base + "/state");
  ASSERT_EQ(RunProcess({"/bin/mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", base + "/state"}).exit_code,
            0);
  struct Unmount {
    std::string dir;
    ~Unmount() { RunProcess({"/bin/umount", "-l", dir}); }
  } unmount{base + "/state"};
  std::string why;
  auto server = ServerProcess::Start({}, &why, base);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  const std::string job = Submit(*server, TinyTrainingConfig(100000), 1);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.progress().step() >= 2; }, 120));
  // The worker pauses while the disk is filled to its last page, so that
  // nothing it writes or rotates frees space before the cancel.
  const std::vector<pid_t> workers = WorkerPids(*server, job);
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(kill(workers[0], SIGSTOP), 0);
  {
    const int fd = open((base + "/state/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(4096, 'x');
    while (write(fd, block.data(), block.size()) > 0) {
    }
    close(fd);
  }
  const ProcessResult refused = server->Client({"cancel", job});
  EXPECT_NE(refused.exit_code, 0) << "a cancel that cannot be made durable must not be acknowledged";
  EXPECT_NE(refused.err.find("No space left on device"), std::string::npos) << refused.err;
  EXPECT_EQ(GetJob(*server, job).state(), asr::v1::RUNNING);
  ASSERT_EQ(kill(workers[0], SIGCONT), 0);
  // The job goes on checkpointing (every 5 steps) into the full disk.
  EXPECT_TRUE(WaitUntil(
      [&] {
        const std::string log = server->process->log();
        return std::regex_search(log,
                                 std::regex("warning .*job " + job + ": checkpoint at step [0-9]+ failed")) ||
               log.find("job " + job + ": the job store refused a write") != std::string::npos;
      },
      60))
      << server->process->log();
  fs::remove(base + "/state/filler");
  const ProcessResult cancel = server->Client({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 120));
}

}  // namespace
}  // namespace asr::testing
