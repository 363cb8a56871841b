// Training across processes (collective.h, trainer.h): the launcher's
// environment read strictly, and 1, 2 and 3 asr-train ranks over loopback
// (Gloo), launched by hand and by Debian's torchrun, reaching the
// parameters and validation CER of a single process after the same steps.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "model/model_io.h"
#include "model/training/checkpoint.h"
#include "model/training/collective.h"
#include "tests/support/corpus.h"
#include "tests/support/process.h"

namespace asr {
namespace {

using Env = std::map<std::string, std::string>;

absl::StatusOr<std::optional<WorldInfo>> World(const Env& env) {
  return WorldFromEnvironment([&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(WorldFromEnvironmentTest, ReadsTorchrunAndSlurmAndNamesWhatIsWrong) {
  auto none = World({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "no launcher: one process";

  const Env torchrun = {{"RANK", "1"},
                        {"WORLD_SIZE", "4"},
                        {"LOCAL_RANK", "1"},
                        {"LOCAL_WORLD_SIZE", "2"},
                        {"MASTER_ADDR", "node0"},
                        {"MASTER_PORT", "29500"},
                        {"TORCHELASTIC_RUN_ID", "x"},
                        {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                        {"TORCHELASTIC_RESTART_COUNT", "2"}};
  auto w = World(torchrun);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->has_value());
  EXPECT_EQ((*w)->rank, 1);
  EXPECT_EQ((*w)->world_size, 4);
  EXPECT_EQ((*w)->local_rank, 1);
  EXPECT_EQ((*w)->local_world_size, 2);
  EXPECT_EQ((*w)->master_addr, "node0");
  EXPECT_EQ((*w)->master_port, 29500);
  EXPECT_TRUE((*w)->agent_store);
  EXPECT_EQ((*w)->restart_count, 2);
  EXPECT_EQ((*w)->launcher, "torchrun");

  auto slurm = World({{"SLURM_PROCID", "3"},
                      {"SLURM_NTASKS", "8"},
                      {"SLURM_LOCALID", "1"},
                      {"SLURM_NTASKS_PER_NODE", "2"},
                      {"MASTER_ADDR", "10.0.0.1"},
                      {"MASTER_PORT", "12345"}});
  ASSERT_TRUE(slurm.ok()) << slurm.status();
  EXPECT_EQ((*slurm)->rank, 3);
  EXPECT_EQ((*slurm)->world_size, 8);
  EXPECT_EQ((*slurm)->local_rank, 1);
  EXPECT_EQ((*slurm)->launcher, "slurm");
  EXPECT_FALSE((*slurm)->agent_store);

  const std::vector<std::pair<Env, std::string>> bad = {
      {{{"RANK", "0"}}, "WORLD_SIZE is not set"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}},
       "RANK=2 is not below WORLD_SIZE=2"},
      {{{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK='x' is not a non-negative integer"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}, "MASTER_ADDR is not set"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}, "MASTER_PORT is not set"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}},
       "MASTER_PORT=70000"},
      {{{"SLURM_PROCID", "0"}}, "SLURM_NTASKS is not set"},
  };
  for (const auto& [env, needle] : bad) {
    auto r = World(env);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status();
  }
}

// A tiny run with every source of randomness on: dropout, SpecAugment,
// speed perturbation, burn-in. 12 steps, validated and checkpointed at the end.
std::string Config(double lr = 0.003) {
  nlohmann::json c = testing::TinyTrainingConfig(12);
  c["train_manifest"] = testing::TinyCorpus() + "/train.jsonl";
  c["dev_manifest"] = testing::TinyCorpus() + "/dev.jsonl";
  c["model"]["dropout"] = 0.2;
  c["data"]["spec_augment"] = true;
  c["optimizer"]["lr"] = lr;
  c["train"]["checkpoint_every_steps"] = 0;
  c["train"]["threads"] = 1;
  c["train"]["gradient_groups"] = 6;  // fixed: the same training for 1, 2 and 3 ranks
  return testing::WriteJson(c);
}

// Runs `ranks` asr-train processes as one job (RANK etc. set by hand) into
// a new folder; returns it. Every rank must exit 0.
std::string RunRanks(int ranks, const std::string& config, std::vector<std::string>* logs = nullptr) {
  const std::string out = testing::MakeTempDir("asr-dist");
  const std::string port = std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<testing::ChildProcess>> procs;
  for (int r = 0; r < ranks; ++r) {
    std::vector<std::string> env;
    if (ranks > 1) {
      env = {"RANK=" + std::to_string(r),       "WORLD_SIZE=" + std::to_string(ranks),
             "LOCAL_RANK=" + std::to_string(r), "LOCAL_WORLD_SIZE=" + std::to_string(ranks),
             "MASTER_ADDR=127.0.0.1",           "MASTER_PORT=" + port};
    }
    procs.push_back(testing::ChildProcess::Start(
        {testing::BinPath("asr-train"), "--config", config, "--out", out, "--collective-timeout", "120"},
        out + "/rank" + std::to_string(r) + ".log", env));
  }
  for (int r = 0; r < ranks; ++r) {
    const std::optional<int> code = procs[static_cast<size_t>(r)]->WaitFor(600);
    EXPECT_EQ(code.value_or(-1), 0) << "rank " << r << " of " << ranks << ": "
                                    << procs[static_cast<size_t>(r)]->log();
    if (logs) logs->push_back(procs[static_cast<size_t>(r)]->log());
  }
  return out;
}

struct RunResult {
  std::map<std::string, torch::Tensor> params;  // of the newest checkpoint
  int64_t step = -1;
  std::vector<double> dev_cer;  // every validation, in order
};

RunResult Read(const std::string& out) {
  RunResult r;
  const std::vector<std::string> ckpts = ListCheckpoints(out + "/checkpoints");
  EXPECT_FALSE(ckpts.empty()) << out;
  if (ckpts.empty()) return r;
  r.step = ReadCheckpoint(ckpts[0])->state.step;
  auto model = LoadModel(ckpts[0]);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return r;
  for (const auto& kv : model->model->named_parameters()) r.params[kv.key()] = kv.value().detach().clone();
  std::ifstream log(out + "/train_log.jsonl");
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("kind", "") == "validation") r.dev_cer.push_back(j.at("dev_cer").get<double>());
  }
  return r;
}

// Relative 1e-5 of each tensor's largest value. With train.gradient_groups
// fixed the groups' gradients are the same whichever rank computes them,
// and their float64 sum (across ranks too) rounds to the same float32
// gradient, so the runs agree bit for bit in practice; the tolerance only
// allows for a float64 sum that lands on a float32 rounding boundary.
// Without fixed groups they would not agree at any useful tolerance: the
// gradients differ by float32 rounding, which early LN-LSTM training
// amplifies (losses 1e-7 apart at step 1 were 5e-4 apart at step 4), and
// Adam turns the sign of near-zero gradient entries into lr-sized steps.
void ExpectSameModel(const RunResult& a, const RunResult& b, const std::string& what) {
  ASSERT_EQ(a.step, b.step) << what;
  ASSERT_EQ(a.params.size(), b.params.size()) << what;
  for (const auto& [name, t] : a.params) {
    const double scale = t.abs().max().item<double>();
    const double err = (t - b.params.at(name)).abs().max().item<double>();
    EXPECT_LE(err, 1e-5 * scale) << what << ", " << name << ": " << err << " of " << scale;
  }
  EXPECT_EQ(a.dev_cer, b.dev_cer) << what;
}

TEST(DistributedTrainingTest, TwoAndThreeRanksReachTheSingleProcessModel) {
  ASSERT_TRUE(ProcessGroupsAvailable()) << "built without c10d + Gloo (libgloo-dev)";
  const std::string config = Config();
  const RunResult one = Read(RunRanks(1, config));
  ASSERT_EQ(one.step, 12);
  ASSERT_FALSE(one.dev_cer.empty());
  std::vector<std::string> logs;
  const std::string two_out = RunRanks(2, config, &logs);
  ExpectSameModel(one, Read(two_out), "2 ranks");
  EXPECT_NE(logs.at(1).find("joined as rank 1/2"), std::string::npos) << logs.at(1);
  // Only rank 0 writes: one log, whose steps each appear once.
  std::ifstream log(two_out + "/train_log.jsonl");
  int steps = 0;
  for (std::string line; std::getline(log, line);)
    steps += nlohmann::json::parse(line).value("kind", "") == "step";
  EXPECT_EQ(steps, 12);
  ExpectSameModel(one, Read(RunRanks(3, config)), "3 ranks");
}

// Debian's torchrun running `ranks` asr-train ranks on this host into
// `out`, restarting the group up to `restarts` times. Its -r/-t must be
// given (their defaults crash on Python 3.11); --no_python runs a binary.
// torchrun's rendezvous: static (the agent hosts the store: --master_port)
// or c10d (elastic, as a Kubeflow PyTorchJob with an elasticPolicy runs it:
// rank 0 hosts the store).
enum class Rendezvous { kStatic, kC10d };

std::vector<std::string> Torchrun(int ranks, int restarts, const std::string& config, const std::string& out,
                                  Rendezvous rdzv = Rendezvous::kStatic) {
  const std::string port = std::to_string(testing::FreePort());
  std::vector<std::string> argv = {"/usr/bin/torchrun", "--nproc_per_node", std::to_string(ranks),
                                   "--max_restarts", std::to_string(restarts)};
  if (rdzv == Rendezvous::kStatic) {
    argv.insert(argv.end(), {"--nnodes", "1", "--master_port", port});
  } else {
    argv.insert(argv.end(), {"--nnodes", "1:1", "--rdzv_backend", "c10d", "--rdzv_endpoint",
                             "127.0.0.1:" + port, "--rdzv_id", "asr-test"});
  }
  argv.insert(argv.end(), {"-r", "2", "-t", "2", "--log_dir", out + "/torchrun-logs", "--no_python",
                           testing::BinPath("asr-train"), "--config", config, "--out", out,
                           "--collective-timeout", "60"});
  return argv;
}

TEST(DistributedTrainingTest, TorchrunLaunchesTheRanks) {
  ASSERT_TRUE(ProcessGroupsAvailable());
  const std::string config = Config();
  const RunResult one = Read(RunRanks(1, config));
  for (Rendezvous rdzv : {Rendezvous::kStatic, Rendezvous::kC10d}) {
    const std::string name = rdzv == Rendezvous::kStatic ? "static" : "c10d";
    const std::string out = testing::MakeTempDir("asr-torchrun");
    const auto r = testing::RunProcess(Torchrun(2, 0, config, out, rdzv), 600);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out << r.err;
    ExpectSameModel(one, Read(out), "torchrun (" + name + " rendezvous), 2 ranks");
  }
}

// Two "nodes": network namespaces joined by a veth pair that the test
// creates (10.231.N.1 and .2, traffic only between them), one torchrun
// each (--nnodes 2, static rendezvous on node 0's address), Gloo bound to
// each side's veth by GLOO_SOCKET_IFNAME, as on hosts with several
// interfaces. They share OUT through the filesystem, as nodes would
// through a shared folder. Needs root for `ip netns` (CI runs as root).
class TwoNodes {
 public:
  TwoNodes() {
    const std::string tag = std::to_string(getpid() % 100000);
    for (int n : {0, 1}) ns_[n] = "asr-n" + std::to_string(n) + "-" + tag;
    veth_[0] = "asrv0-" + tag;
    veth_[1] = "asrv1-" + tag;
    const std::string subnet = "10.231." + std::to_string(getpid() % 200 + 1) + ".";
    for (int n : {0, 1}) addr_[n] = subnet + std::to_string(n + 1);
    ok_ = Ip({"netns", "add", ns_[0]}) && Ip({"netns", "add", ns_[1]}) &&
          Ip({"link", "add", veth_[0], "type", "veth", "peer", "name", veth_[1]});
    for (int n : {0, 1}) {
      ok_ = ok_ && Ip({"link", "set", veth_[n], "netns", ns_[n]}) &&
            Ip({"-n", ns_[n], "addr", "add", addr_[n] + "/24", "dev", veth_[n]}) &&
            Ip({"-n", ns_[n], "link", "set", veth_[n], "up"}) &&
            Ip({"-n", ns_[n], "link", "set", "lo", "up"});
    }
  }
  ~TwoNodes() {
    for (int n : {0, 1}) Ip({"netns", "del", ns_[n]});  // takes the veth pair with it
  }
  bool ok() const { return ok_; }
  const std::string& address(int node) const { return addr_[node]; }
  // argv run inside node `node`'s namespace with extra environment.
  std::vector<std::string> In(int node, const std::vector<std::string>& argv) const {
    std::vector<std::string> out = {"/usr/sbin/ip", "netns", "exec",
                                    ns_[node],      "env",   "GLOO_SOCKET_IFNAME=" + veth_[node]};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }
  std::string why;

 private:
  bool Ip(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/sbin/ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = testing::RunProcess(argv, 30);
    if (r.exit_code != 0) why += "ip " + args[0] + " " + args[1] + ": " + r.err;
    return r.exit_code == 0;
  }
  std::string ns_[2], veth_[2], addr_[2];
  bool ok_ = false;
};

TEST(DistributedTrainingTest, TwoNodesInNetworkNamespacesTrainAsOne) {
  ASSERT_TRUE(ProcessGroupsAvailable());
  if (geteuid() != 0) GTEST_SKIP() << "ip netns needs root (CI runs as root)";
  TwoNodes nodes;
  ASSERT_TRUE(nodes.ok()) << nodes.why;
  const std::string config = Config();
  const RunResult one = Read(RunRanks(1, config));
  const std::string out = testing::MakeTempDir("asr-2nodes");
  std::vector<std::unique_ptr<testing::ChildProcess>> agents;
  for (int n : {0, 1}) {
    agents.push_back(testing::ChildProcess::Start(nodes.In(n, {"/usr/bin/torchrun",
                                                               "--nnodes",
                                                               "2",
                                                               "--node_rank",
                                                               std::to_string(n),
                                                               "--nproc_per_node",
                                                               "1",
                                                               "--master_addr",
                                                               nodes.address(0),
                                                               "--master_port",
                                                               "29555",
                                                               "-r",
                                                               "2",
                                                               "-t",
                                                               "2",
                                                               "--log_dir",
                                                               out + "/torchrun-node" + std::to_string(n),
                                                               "--no_python",
                                                               testing::BinPath("asr-train"),
                                                               "--config",
                                                               config,
                                                               "--out",
                                                               out,
                                                               "--collective-timeout",
                                                               "60"}),
                                                  out + "/node" + std::to_string(n) + ".log"));
  }
  for (int n : {0, 1}) {
    const std::optional<int> code = agents[static_cast<size_t>(n)]->WaitFor(600);
    ASSERT_EQ(code.value_or(-1), 0) << "node " << n << ": " << agents[static_cast<size_t>(n)]->log();
  }
  const std::string rank1 = testing::ReadFileOrEmpty(out + "/node1.log");
  EXPECT_NE(rank1.find("joined as rank 1/2"), std::string::npos) << rank1;
  EXPECT_NE(rank1.find(nodes.address(0)), std::string::npos)
      << "rank 1 reached the store elsewhere: " << rank1;
  ExpectSameModel(one, Read(out), "2 nodes over a veth pair");
}

// The pid of the asr-train process writing into `out` whose environment
// holds `rank_var` (e.g. "RANK=1"), or -1.
pid_t FindRank(const std::string& out, const std::string& rank_var) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = testing::ReadFileOrEmpty(e.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("asr-train") == std::string::npos || cmdline.find(out) == std::string::npos) continue;
    const std::string env = testing::ReadFileOrEmpty(e.path().string() + "/environ");
    if (env.find(std::string(1, '\0') + rank_var + '\0') != std::string::npos ||
        env.rfind(rank_var + '\0', 0) == 0)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// torchrun --max_restarts 1 with one rank killed by SIGKILL after the
// first periodic checkpoint: the group restarts, resumes from the newest
// checkpoint with the step counter going on, and ends with the parameters
// of an uninterrupted single-process run (resume is exact and the groups
// are fixed, so they are the same bit for bit in practice).
TEST(DistributedTrainingTest, TorchrunRestartsTheGroupAfterARankIsKilledAndResumes) {
  ASSERT_TRUE(ProcessGroupsAvailable());
  nlohmann::json c = nlohmann::json::parse(testing::ReadFileOrEmpty(Config()));
  c["train"]["max_steps"] = 30;
  c["train"]["checkpoint_every_steps"] = 5;
  c["train"]["keep_last_checkpoints"] = 10;
  c["model"]["hidden_size"] = 96;  // slower steps, so the kill lands mid-run
  const std::string config = testing::WriteJson(c);
  const RunResult straight = Read(RunRanks(1, config));
  ASSERT_EQ(straight.step, 30);
  const std::string out = testing::MakeTempDir("asr-torchrun");
  std::vector<std::string> argv = Torchrun(2, 1, config, out);
  argv.push_back("--resume");
  auto run = testing::ChildProcess::Start(argv, out + "/torchrun.log");
  // Wait for a periodic checkpoint, then kill rank 1.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (ListCheckpoints(out + "/checkpoints").empty() && std::chrono::steady_clock::now() < deadline &&
         run->running())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(ListCheckpoints(out + "/checkpoints").empty()) << run->log();
  const pid_t victim = FindRank(out, "RANK=1");
  ASSERT_GT(victim, 0) << "rank 1 not found";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const std::optional<int> code = run->WaitFor(600);
  ASSERT_EQ(code.value_or(-1), 0) << run->log();
  // The restarted group resumed from a checkpoint and went on from its step.
  std::ifstream log(out + "/train_log.jsonl");
  int64_t resumed_at = -1, first_step_after = -1, last_step = -1;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string message = j.value("message", "");
    if (message.rfind("resuming from", 0) == 0)
      resumed_at = std::stoll(message.substr(message.rfind(' ') + 1));
    if (j.value("kind", "") == "step") {
      if (resumed_at >= 0 && first_step_after < 0) first_step_after = j.at("step").get<int64_t>();
      last_step = j.at("step").get<int64_t>();
    }
  }
  ASSERT_GE(resumed_at, 5) << "no resume after the kill: " << run->log();
  EXPECT_EQ(first_step_after, resumed_at + 1);
  EXPECT_EQ(last_step, 30);
  // The survivor named the lost peer; both ranks joined again as attempt 1.
  const std::string launcher_log = testing::ReadFileOrEmpty(out + "/torchrun.log");
  EXPECT_NE(launcher_log.find("across ranks failed"), std::string::npos) << launcher_log;
  EXPECT_NE(launcher_log.find("rank 1/2 (local 1/2) via torchrun, store 127.0.0.1:"), std::string::npos);
  EXPECT_NE(launcher_log.find("(torchrun agent, attempt 1)"), std::string::npos) << launcher_log;
  ExpectSameModel(straight, Read(out), "torchrun, rank 1 killed and the group restarted");
}

TEST(DistributedTrainingTest, RanksWithDifferentConfigsFailAtOnceNamingIt) {
  ASSERT_TRUE(ProcessGroupsAvailable());
  const std::string out = testing::MakeTempDir("asr-dist");
  const std::string port = std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<testing::ChildProcess>> procs;
  for (int r = 0; r < 2; ++r) {
    procs.push_back(testing::ChildProcess::Start(
        {testing::BinPath("asr-train"), "--config", Config(r == 0 ? 0.003 : 0.001), "--out", out,
         "--collective-timeout", "60"},
        out + "/rank" + std::to_string(r) + ".log",
        {"RANK=" + std::to_string(r), "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port}));
  }
  for (auto& p : procs) {
    EXPECT_NE(p->WaitFor(120).value_or(-1), 0) << p->log();
    EXPECT_NE(p->log().find("another config than rank 0"), std::string::npos) << p->log();
  }
}

TEST(DistributedTrainingTest, AnUnreachableMasterIsAnErrorWithinTheTimeout) {
  ASSERT_TRUE(ProcessGroupsAvailable());
  const std::string out = testing::MakeTempDir("asr-dist");
  // Rank 1 of 2 whose rank 0 never comes: the store at MASTER_PORT is not there.
  const auto r = testing::RunProcess(
      {testing::BinPath("asr-train"), "--config", Config(), "--out", out, "--collective-timeout", "3"}, 120,
      {"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
       "MASTER_PORT=" + std::to_string(testing::FreePort())});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.err.find("cannot join the process group as rank 1/2"), std::string::npos) << r.err;
}

TEST(DistributedTrainingTest, TheBackendMustSuitTheDeviceAndTheBuild) {
  const std::string out = testing::MakeTempDir("asr-dist");
  // NCCL moves GPU memory: a CPU job asking for it is refused before joining.
  const auto r = testing::RunProcess({testing::BinPath("asr-train"), "--config", Config(), "--out", out,
                                      "--collective-backend", "nccl", "--collective-timeout", "3"},
                                     60,
                                     {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
                                      "MASTER_PORT=" + std::to_string(testing::FreePort())});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--collective-backend nccl needs train.device cuda"), std::string::npos) << r.err;
  const auto bad = testing::RunProcess(
      {testing::BinPath("asr-train"), "--config", Config(), "--out", out, "--collective-backend", "mpi"}, 60);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--collective-backend"), std::string::npos) << bad.err;
  // A build without NCCL (CPU LibTorch) names what it lacks instead of trying.
  WorldInfo world;
  world.world_size = 2, world.master_addr = "127.0.0.1", world.master_port = testing::FreePort();
  if (!NcclAvailable()) {
    const auto joined = JoinProcessGroup(world, std::chrono::milliseconds(1000), CollectiveBackend::kNccl);
    ASSERT_FALSE(joined.ok());
    EXPECT_EQ(joined.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_NE(joined.status().message().find("no NCCL"), std::string::npos) << joined.status();
  }
  EXPECT_EQ(ParseCollectiveBackend("nccl"), CollectiveBackend::kNccl);
  EXPECT_EQ(ParseCollectiveBackend("gloo"), CollectiveBackend::kGloo);
  EXPECT_FALSE(ParseCollectiveBackend("mpi").has_value());
}

}  // namespace
}  // namespace asr
