// LocalRunner with stand-in workers (shell and Python one-liners): the
// launcher variables each rank gets and the server's own that it must not,
// how every way of ending is classified, a failed rank's peers stopped, the
// resident-memory limit, cancel (SIGTERM) and kill, reattaching after a
// server restart.
#include "server/worker_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace asr::server {
namespace {

using Kind = WorkerOutcome::Kind;

// Polls until the group ends or `seconds` pass.
std::optional<WorkerOutcome> WaitFor(WorkerGroup& g, double seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto o = g.Poll()) return o;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

WorkerLaunch Shell(const std::string& script, int processes = 1) {
  WorkerLaunch l;
  l.job_id = "job-test";
  l.argv = {"/bin/sh", "-c", script};
  l.log_dir = asr::testing::MakeTempDir("asr-runner");
  l.processes = processes;
  return l;
}

std::string RankLog(const WorkerLaunch& l, int rank) {
  return asr::testing::ReadFileOrEmpty(l.log_dir + "/rank-" + std::to_string(rank) + ".log");
}

TEST(LocalRunnerTest, EachRankGetsTorchrunsVariablesAndNotTheServersOwn) {
  setenv("SLURM_PROCID", "7", 1);  // as if the server itself ran under srun
  setenv("RANK", "5", 1);
  LocalRunner runner;
  WorkerLaunch l = Shell(
      "echo rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK/$LOCAL_WORLD_SIZE "
      "master=$MASTER_ADDR:$MASTER_PORT slurm=${SLURM_PROCID:-unset}",
      2);
  auto g = runner.Launch(l);
  ASSERT_TRUE(g.ok()) << g.status();
  auto o = WaitFor(**g);
  unsetenv("SLURM_PROCID");
  unsetenv("RANK");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->kind, Kind::kSucceeded) << o->detail;
  for (int rank : {0, 1}) {
    const std::string log = RankLog(l, rank);
    EXPECT_NE(log.find("rank=" + std::to_string(rank) + " world=2 local=" + std::to_string(rank) + "/2 " +
                       "master=127.0.0.1:"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("slurm=unset"), std::string::npos) << log;
  }
  // One process: no launcher variables at all (asr-train runs without c10d).
  WorkerLaunch single = Shell("echo rank=${RANK:-unset} master=${MASTER_ADDR:-unset}");
  auto s = runner.Launch(single);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(WaitFor(**s).has_value());
  EXPECT_NE(RankLog(single, 0).find("rank=unset master=unset"), std::string::npos) << RankLog(single, 0);
}

TEST(LocalRunnerTest, ExitCodesAndSignalsAreClassified) {
  LocalRunner runner;
  struct Case {
    std::string script;
    Kind kind;
    std::string detail;
  } cases[] = {
      {"exit 0", Kind::kSucceeded, ""},
      {"echo 'asr-train: config.model.hidden_size: bad' >&2; exit 2", Kind::kInvalidInput, "rank 0 (pid "},
      {"echo 'asr-train: lost rank 1' >&2; exit 1", Kind::kFailed,
       "exited with status 1; its log ends: "
       "asr-train: lost rank 1"},
      {"kill -SEGV $$", Kind::kFailed, "was killed by SIGSEGV"},
  };
  for (const Case& c : cases) {
    auto g = runner.Launch(Shell(c.script));
    ASSERT_TRUE(g.ok());
    auto o = WaitFor(**g);
    ASSERT_TRUE(o.has_value()) << c.script;
    EXPECT_EQ(o->kind, c.kind) << c.script << ": " << o->detail;
    EXPECT_NE(o->detail.find(c.detail), std::string::npos) << c.script << ": " << o->detail;
  }
}

TEST(LocalRunnerTest, AFailedRanksPeersAreStoppedAndItIsNamedTheCause) {
  LocalRunner runner(/*peer_grace_seconds=*/1);
  // Rank 1 dies; rank 0 would wait for it forever, ignoring SIGTERM.
  auto g = runner.Launch(Shell(
      "if [ $RANK = 1 ]; then sleep 0.3; kill -KILL $$; fi; trap '' TERM; while :; do sleep 0.1; done", 2));
  ASSERT_TRUE(g.ok());
  const auto start = std::chrono::steady_clock::now();
  auto o = WaitFor(**g, 20);
  ASSERT_TRUE(o.has_value()) << "rank 0 was not stopped";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(o->kind, Kind::kFailed);
  EXPECT_NE(o->detail.find("rank 1 (pid "), std::string::npos) << o->detail;
  EXPECT_NE(o->detail.find("was killed by SIGKILL"), std::string::npos) << o->detail;
}

TEST(LocalRunnerTest, WorkersOverTheMemoryLimitAreKilled) {
  LocalRunner runner;
  WorkerLaunch l;
  l.argv = {"/usr/bin/python3", "-c", "import time; x = bytearray(300 << 20); time.sleep(60)"};
  l.log_dir = asr::testing::MakeTempDir("asr-runner");
  l.memory_limit_bytes = int64_t{100} << 20;
  auto g = runner.Launch(l);
  ASSERT_TRUE(g.ok());
  auto o = WaitFor(**g, 30);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->kind, Kind::kOverMemory) << o->detail;
  EXPECT_NE(o->detail.find("more than the job's limit of 100 MiB"), std::string::npos) << o->detail;
  // Under the limit the same worker is left alone.
  l.argv = {"/usr/bin/python3", "-c", "x = bytearray(30 << 20)"};
  l.memory_limit_bytes = int64_t{200} << 20;
  auto ok = runner.Launch(l);
  ASSERT_TRUE(ok.ok());
  auto fine = WaitFor(**ok, 30);
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->kind, Kind::kSucceeded) << fine->detail;
}

TEST(LocalRunnerTest, TerminateIsACancelAndKillEndsWorkersThatIgnoreIt) {
  LocalRunner runner;
  // asr-train's answer to SIGTERM: checkpoint, exit 130.
  auto g = runner.Launch(Shell("trap 'exit 130' TERM; while :; do sleep 0.05; done", 2));
  ASSERT_TRUE(g.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE((*g)->Poll().has_value());
  (*g)->Terminate();
  auto o = WaitFor(**g);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->kind, Kind::kCancelled) << o->detail;

  auto stubborn = runner.Launch(Shell("trap '' TERM; while :; do sleep 0.05; done"));
  ASSERT_TRUE(stubborn.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  (*stubborn)->Terminate();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE((*stubborn)->Poll().has_value());
  (*stubborn)->Kill();
  auto k = WaitFor(**stubborn);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->kind, Kind::kKilled);
}

TEST(LocalRunnerTest, ReattachWaitsForAFinishingWorkerAndKillsOneThatDoesNot) {
  // Workers from "a previous server": started here, outside any group.
  auto finishing = asr::testing::ChildProcess::Start({"/bin/sh", "-c", "sleep 0.5"}, "/dev/null");
  auto stuck = asr::testing::ChildProcess::Start({"/bin/sh", "-c", "trap '' TERM; sleep 60"}, "/dev/null");
  auto ticks = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    for (int i = 0; i < 20; ++i) fields >> f;  // field 22 of /proc/PID/stat
    return f;
  };
  const std::string handle = "local:" + std::to_string(finishing->pid()) + "/" + ticks(finishing->pid()) +
                             "," + std::to_string(stuck->pid()) + "/" + ticks(stuck->pid());
  LocalRunner runner;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(runner.Reattach(handle, /*grace_seconds=*/2), nullptr);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 1.9);  // it waited the grace for the stuck one
  EXPECT_EQ(finishing->WaitFor(1), std::optional<int>(0));
  EXPECT_EQ(stuck->WaitFor(5), std::optional<int>(128 + SIGKILL));
  // A handle whose pid now belongs to another process (other start time) is left alone.
  auto other = asr::testing::ChildProcess::Start({"/bin/sh", "-c", "sleep 1"}, "/dev/null");
  EXPECT_EQ(runner.Reattach("local:" + std::to_string(other->pid()) + "/1", 5), nullptr);
  EXPECT_TRUE(other->running());
}

}  // namespace
}  // namespace asr::server
