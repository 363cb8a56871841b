// asr-server's Slurm runner against a real Slurm: munged, slurmctld and
// slurmd (Debian's slurm-wlm and munge) started by the test on this host,
// on free ports, with their state in a temporary directory. A 2-task job
// trains through sbatch + srun (ranks from SLURM_PROCID, joined by Gloo),
// is cancelled through scancel, and outlives a kill -9 of the server, which
// finds it again on restart. slurmd launches tasks as root here, so the
// test needs root (CI runs as root).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/process.h"
#include "tests/support/server_process.h"

namespace asr::testing {
namespace {

// A one-node Slurm cluster on this host; stopped (and its jobs cancelled)
// when destroyed. SLURM_CONF points at it while it lives, so that this
// process's children (the server, sbatch, srun) use it.
class SlurmCluster {
 public:
  static std::unique_ptr<SlurmCluster> Start(std::string* why) {
    auto c = std::unique_ptr<SlurmCluster>(new SlurmCluster());
    c->dir_ = MakeTempDir("asr-slurm");
    const std::string d = c->dir_;
    std::filesystem::create_directories(d + "/state");
    std::filesystem::create_directories(d + "/spool");
    {
      std::ofstream key(d + "/munge.key", std::ios::binary);
      std::ifstream random("/dev/urandom", std::ios::binary);
      std::vector<char> bytes(1024);
      random.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      key.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    std::filesystem::permissions(d + "/munge.key", std::filesystem::perms::owner_read);
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    std::ofstream(d + "/slurm.conf")
        << "ClusterName=asrtest\n"
        << "SlurmctldHost=" << host << "(127.0.0.1)\n"
        << "SlurmctldPort=" << FreePort() << "\nSlurmdPort=" << FreePort() << "\n"
        << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << d << "/munge.socket\n"
        << "StateSaveLocation=" << d << "/state\nSlurmdSpoolDir=" << d << "/spool\n"
        << "SlurmctldPidFile=" << d << "/slurmctld.pid\nSlurmdPidFile=" << d << "/slurmd.pid\n"
        << "SlurmctldLogFile=" << d << "/slurmctld.log\nSlurmdLogFile=" << d << "/slurmd.log\n"
        << "SlurmUser=root\nSlurmdUser=root\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
        << "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
        << "JobCompType=jobcomp/none\nSchedulerType=sched/builtin\nSelectType=select/cons_tres\n"
        << "SelectTypeParameters=CR_CPU\nMpiDefault=none\nReturnToService=2\nSwitchType=switch/none\n"
        << "NodeName=" << host << " NodeAddr=127.0.0.1 CPUs=2 RealMemory=" << pages * page / (1 << 20)
        << " State=UNKNOWN\n"
        << "PartitionName=debug Nodes=" << host
        << " Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES\n";
    setenv("SLURM_CONF", (d + "/slurm.conf").c_str(), 1);
    c->munged_ = ChildProcess::Start({"/usr/sbin/munged", "-F", "-f", "--socket=" + d + "/munge.socket",
                                      "--key-file=" + d + "/munge.key", "--pid-file=" + d + "/munged.pid",
                                      "--log-file=" + d + "/munged.log", "--seed-file=" + d + "/munged.seed"},
                                     d + "/munged.out");
    c->slurmctld_ = ChildProcess::Start({"/usr/sbin/slurmctld", "-D", "-i"}, d + "/slurmctld.out");
    c->slurmd_ = ChildProcess::Start({"/usr/sbin/slurmd", "-D", "-N", host}, d + "/slurmd.out");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (RunProcess({"/usr/bin/sinfo", "-h", "-o", "%t"}, 10).out.find("idle") != std::string::npos)
        return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    *why = "the Slurm node never became idle: " + ReadFileOrEmpty(d + "/slurmctld.log") +
           ReadFileOrEmpty(d + "/slurmd.log") + c->munged_->log();
    return nullptr;
  }
  ~SlurmCluster() {
    RunProcess({"/usr/bin/scancel", "--full", "--partition", "debug"}, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (auto* p : {&slurmd_, &slurmctld_, &munged_}) {
      if (*p) (*p)->Signal(SIGTERM), (*p)->WaitFor(10);
    }
    unsetenv("SLURM_CONF");
  }

 private:
  SlurmCluster() = default;
  std::string dir_;
  std::unique_ptr<ChildProcess> munged_, slurmctld_, slurmd_;
};

// One cluster for the suite (starting Slurm takes seconds), a server per test.
class SlurmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) cluster_ = SlurmCluster::Start(&cluster_why_).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "slurmd launches tasks as root here: run as root (CI does)";
    ASSERT_NE(cluster_, nullptr) << cluster_why_;
    std::string why;
    server_ = ServerProcess::Start({"--runner", "slurm"}, &why);
    ASSERT_NE(server_, nullptr) << why;
    PlaceCorpus(*server_, "c");
  }
  std::string Submit(const nlohmann::json& cfg) {
    ProcessResult r = server_->Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl",
                                       "--processes", "2", "--threads-per-process", "1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return FirstLine(r.out);
  }
  std::string Handle(const std::string& job) {
    return ReadFileOrEmpty(server_->state_dir + "/jobs/" + job + "/workers");
  }
  // The job's event messages and what its workers logged, for failure messages.
  std::string Logs(const std::string& job) {
    std::string out;
    for (const auto& e : AllEvents(*server_, job)) {
      if (!e.message().empty() || !e.error().empty()) out += "event: " + e.message() + e.error() + "\n";
    }
    const std::string dir = server_->state_dir + "/jobs/" + job + "/logs";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      out += "--- " + e.path().filename().string() + "\n" + ReadFileOrEmpty(e.path().string());
    }
    return out;
  }
  static SlurmCluster* cluster_;
  static std::string cluster_why_;
  std::unique_ptr<ServerProcess> server_;
};
SlurmCluster* SlurmTest::cluster_ = nullptr;
std::string SlurmTest::cluster_why_;

TEST_F(SlurmTest, ATwoTaskJobTrainsThroughSbatchAndSrun) {
  const std::string job = Submit(TinyTrainingConfig(10));
  ASSERT_TRUE(WaitFor(
      *server_, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 300))
      << GetJob(*server_, job).DebugString();
  const std::string logs = server_->state_dir + "/jobs/" + job + "/logs/";
  EXPECT_NE(ReadFileOrEmpty(logs + "rank-0.log").find("joined as rank 0/2"), std::string::npos)
      << ReadFileOrEmpty(logs + "rank-0.log");
  EXPECT_NE(ReadFileOrEmpty(logs + "rank-0.log").find("via slurm"), std::string::npos);
  EXPECT_NE(ReadFileOrEmpty(logs + "rank-1.log").find("joined as rank 1/2"), std::string::npos);
  EXPECT_EQ(GetJob(*server_, job).progress().step(), 10);
  ProcessResult publish = server_->Client({"publish", job, "slurm-tiny"});
  EXPECT_EQ(publish.exit_code, 0) << publish.err;
}

TEST_F(SlurmTest, CancelReachesTheTasksThroughScancel) {
  nlohmann::json cfg = TinyTrainingConfig(100000);
  cfg["train"]["checkpoint_every_steps"] = 0;  // only the cancellation checkpoint
  const std::string job = Submit(cfg);
  ASSERT_TRUE(WaitFor(
      *server_, job, [](const asr::v1::Job& j) { return j.progress().step() >= 3; }, 120))
      << GetJob(*server_, job).DebugString() << Logs(job);
  EXPECT_EQ(Handle(job).rfind("slurm:", 0), 0u) << Handle(job);
  ASSERT_EQ(server_->Client({"cancel", job}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      *server_, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 120))
      << GetJob(*server_, job).DebugString() << Logs(job);
  ProcessResult ckpts = server_->Client({"--json", "checkpoints", job});
  EXPECT_EQ(nlohmann::json::parse(ckpts.out)["checkpoints"].size(), 1u) << ckpts.out << Logs(job);
}

TEST_F(SlurmTest, TheJobOutlivesTheServerWhichFindsItAgain) {
  nlohmann::json cfg = TinyTrainingConfig(60);
  cfg["model"]["hidden_size"] = 96;
  const std::string job = Submit(cfg);
  ASSERT_TRUE(WaitFor(
      *server_, job, [](const asr::v1::Job& j) { return j.progress().step() >= 5; }, 120))
      << GetJob(*server_, job).DebugString() << Logs(job);
  const std::string handle = Handle(job);
  server_->process->Signal(SIGKILL);
  server_->process->WaitFor(30);
  const std::string slurm_id = handle.substr(6, handle.find(':', 6) - 6);
  EXPECT_NE(RunProcess({"/usr/bin/squeue", "-h", "-j", slurm_id, "-o", "%T"}, 10).out.find("RUNNING"),
            std::string::npos)
      << "the Slurm job ended with the server";
  std::string why;
  auto restarted = ServerProcess::Start({"--runner", "slurm"}, &why, server_->dir, server_->grpc_port);
  ASSERT_NE(restarted, nullptr) << why;
  ASSERT_TRUE(WaitFor(
      *restarted, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 300))
      << GetJob(*restarted, job).DebugString();
  bool found = false;
  for (const auto& e : AllEvents(*restarted, job)) {
    if (e.message().find("found the job's workers still running (slurm:" + slurm_id) != std::string::npos)
      found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(GetJob(*restarted, job).failures(), 0);
  EXPECT_EQ(GetJob(*restarted, job).progress().step(), 60);
}

}  // namespace
}  // namespace asr::testing
