// Servers sharing PostgreSQL, a model store, a data root and a jobs
// directory (issue 31): what one server recorded and published, a server
// started afresh on the same database and store (another pod, its own
// empty state directory) sees and serves; a job runs once, on whichever
// replica claims it, is watched, cancelled and published through any, and
// resumes on another when its replica dies (kill -9: after its lease) or
// stops (SIGTERM: at once); two replicas behind nginx share streams and
// fail over; and a database that goes away under a running server makes
// job calls UNAVAILABLE without harming recognition, and recovers.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/grpc_balancer.h"
#include "tests/support/job_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

struct Shared {
  std::unique_ptr<PostgresServer> db;
  std::string uri, password_file, models, data, jobs;
};

Shared SharedState() {
  Shared s;
  std::string why;
  s.db = PostgresServer::Start(&why);
  EXPECT_NE(s.db, nullptr) << why;
  if (!s.db) return s;
  s.uri = s.db->Uri(s.db->NewDatabase());
  const std::string dir = MakeTempDir("asr-shared");
  s.password_file = dir + "/db-password";
  std::ofstream(s.password_file) << s.db->password() << "\n";
  s.models = dir + "/models";
  s.data = dir + "/data";
  s.jobs = dir + "/jobs";
  return s;
}

// A replica named `name` on the shared state (its own state directory).
std::unique_ptr<ServerProcess> StartOn(const Shared& s, const std::string& name = "a",
                                       std::vector<std::string> extra = {}) {
  std::string why;
  std::vector<std::string> args = {"--database",
                                   s.uri,
                                   "--database-password-file",
                                   s.password_file,
                                   "--model-store",
                                   s.models,
                                   "--data-root",
                                   s.data,
                                   "--jobs-dir",
                                   s.jobs,
                                   "--replica-name",
                                   name};
  args.insert(args.end(), extra.begin(), extra.end());
  auto server = ServerProcess::Start(args, &why);
  EXPECT_NE(server, nullptr) << why;
  return server;
}

// Replicas "a" and "b" on fresh shared state, the tiny corpus in the data
// root as "c".
struct TwoReplicas {
  Shared shared;
  std::unique_ptr<ServerProcess> a, b;
  bool ok() const { return shared.db && a && b; }
};
TwoReplicas StartTwo(const std::vector<std::string>& extra = {}) {
  TwoReplicas r;
  r.shared = SharedState();
  if (!r.shared.db) return r;
  r.a = StartOn(r.shared, "a", extra);
  r.b = StartOn(r.shared, "b", extra);
  if (r.a) PlaceCorpus(*r.a, "c");
  return r;
}

// The first event of `job` whose message contains `text` (nullptr if none).
const asr::v1::JobEvent* FindMessage(const std::vector<asr::v1::JobEvent>& events, const std::string& text) {
  for (const asr::v1::JobEvent& e : events) {
    if (e.message().find(text) != std::string::npos) return &e;
  }
  return nullptr;
}

double Seconds(const google::protobuf::Timestamp& t) {
  return static_cast<double>(t.seconds()) + t.nanos() * 1e-9;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The step of the first progress event after sequence number `seq` (0 if none).
int64_t FirstStepAfter(const std::vector<asr::v1::JobEvent>& events, int64_t seq) {
  for (const asr::v1::JobEvent& e : events) {
    if (e.sequence() > seq && e.has_progress()) return e.progress().step();
  }
  return 0;
}

// Which of replicas a and b runs `job`, and the other.
struct Roles {
  ServerProcess* runner = nullptr;
  ServerProcess* other = nullptr;
  std::string runner_name, other_name;
};
Roles RolesOf(ServerProcess& a, ServerProcess& b, const std::string& job) {
  const std::string name = GetJob(a, job).replica();
  EXPECT_TRUE(name == "a" || name == "b") << "runs on '" << name << "'";
  if (name == "b") return {&b, &a, "b", "a"};
  return {&a, &b, "a", "b"};
}

// A job slow enough to be caught running: `steps` steps of a wider model.
std::string SlowJob(const ServerProcess& via, int steps) {
  nlohmann::json cfg = TinyTrainingConfig(steps);
  cfg["model"]["hidden_size"] = 96;
  const ProcessResult created =
      via.Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl"});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  return FirstLine(created.out);
}

TEST(ReplicasTest, AServerOnTheSameDatabaseAndStoreSeesJobsAndServesModels) {
  const Shared shared = SharedState();
  ASSERT_NE(shared.db, nullptr);
  auto first = StartOn(shared);
  ASSERT_NE(first, nullptr);
  EXPECT_NE(first->process->log().find("job store: postgresql, schema version 3"), std::string::npos);
  PlaceCorpus(*first, "c");
  const ProcessResult train = first->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest", "c/train.jsonl", "--watch"}, 300);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  ASSERT_EQ(first->Client({"publish", job, "digits"}).exit_code, 0);
  // A second server: fresh state directory, same database and model store.
  auto second = StartOn(shared, "b");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(GetJob(*second, job).state(), asr::v1::SUCCEEDED);
  const ProcessResult models = second->Client({"--json", "models"});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_NE(models.out.find("\"sha256\""), std::string::npos) << models.out;
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  const StreamResult r = RunStream(*second, Chunks(Linear16Config(rate), pcm, 3200));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.responses.back().model(), "digits:1");
}

// WatchJob through one server follows a job another server runs: events
// reach it through the shared database (the watcher polls it every second).
TEST(ReplicasTest, AJobRunningOnOneServerIsWatchedThroughAnother) {
  TwoReplicas r = StartTwo();
  ASSERT_TRUE(r.ok());
  auto &a = r.a, &b = r.b;
  const ProcessResult created =
      a->Client({"train", "--config", WriteJson(TinyTrainingConfig(40)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string job = FirstLine(created.out);
  const ProcessResult watched = b->Client({"--json", "watch", job}, 300);
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_NE(watched.out.find("SUCCEEDED"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("\"progress\":{\"step\":40"), std::string::npos)
      << "progress events came through B:\n"
      << watched.out;
  EXPECT_EQ(GetJob(*b, job).state(), asr::v1::SUCCEEDED);
  int runs = 0;
  for (const asr::v1::JobEvent& e : AllEvents(*b, job))
    runs += e.message().find("' runs the job") != std::string::npos;
  EXPECT_EQ(runs, 1) << "claimed by exactly one replica";
}

// Cancel through the replica that does not run the job: the one that does
// sees the request (a file in the shared jobs directory) and stops it.
TEST(ReplicasTest, ACancelThroughAnotherReplicaStopsTheJob) {
  TwoReplicas r = StartTwo();
  ASSERT_TRUE(r.ok());
  auto &a = r.a, &b = r.b;
  const std::string job = SlowJob(*a, 2000);
  ASSERT_TRUE(WaitFor(
      *a, job, [](const asr::v1::Job& j) { return j.progress().step() >= 3; }, 120));
  const ServerProcess& other = *RolesOf(*a, *b, job).other;
  const ProcessResult cancel = other.Client({"cancel", job});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  ASSERT_TRUE(WaitFor(
      other, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 120))
      << GetJob(other, job).DebugString();
  EXPECT_EQ(GetJob(other, job).stop_reason(), "cancelled");
  EXPECT_LT(GetJob(other, job).progress().step(), 2000);
}

// kill -9 of the replica running a job: the other requeues it once the
// dead one's lease expires and resumes it from its newest checkpoint.
TEST(ReplicasTest, AJobOfAKilledReplicaResumesOnAnotherAfterTheLease) {
  TwoReplicas r = StartTwo({"--replica-lease", "6"});
  ASSERT_TRUE(r.ok());
  auto &a = r.a, &b = r.b;
  const std::string job = SlowJob(*a, 60);
  ASSERT_TRUE(WaitFor(
      *a, job, [](const asr::v1::Job& j) { return j.progress().step() >= 12; }, 120));
  const Roles roles = RolesOf(*a, *b, job);
  ServerProcess& dead = *roles.runner;
  ServerProcess& survivor = *roles.other;
  const std::string &runner = roles.runner_name, &survivor_name = roles.other_name;
  const double killed_at = NowSeconds();
  ASSERT_TRUE(dead.process->Signal(SIGKILL));
  dead.process->WaitFor(30);
  ASSERT_TRUE(WaitFor(
      survivor, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 300))
      << GetJob(survivor, job).DebugString() << survivor.process->log();
  const asr::v1::Job done = GetJob(survivor, job);
  EXPECT_EQ(done.progress().step(), 60);
  EXPECT_EQ(done.failures(), 0) << "a replica's death is not the job's failure";
  const std::vector<asr::v1::JobEvent> events = AllEvents(survivor, job);
  const asr::v1::JobEvent* lost = FindMessage(events, "replica '" + runner + "' stopped renewing its lease");
  const asr::v1::JobEvent* resumed =
      FindMessage(events, "replica '" + survivor_name + "' runs the job (attempt 2)");
  ASSERT_TRUE(lost && resumed) << survivor.process->log();
  // Resumed from a checkpoint (every 5 steps), not from the start.
  const int64_t first_step_after = FirstStepAfter(events, resumed->sequence());
  EXPECT_GE(first_step_after, 10) << "the run resumed from its newest checkpoint";
  std::printf(
      "takeover after kill -9 (lease 6 s): requeued after %.1f s, running on replica '%s' after %.1f s\n",
      Seconds(lost->time()) - killed_at, survivor_name.c_str(), Seconds(resumed->time()) - killed_at);
}

double OkStreams(const ServerProcess& s) {
  const std::string v = Metric(s, "asr_streams_total{code=\"OK\"}");
  return v.empty() ? 0 : std::stod(v);
}

// The scenario: two replicas behind nginx (grpc_pass balances each
// stream round robin). A job created through A is watched and published
// through B; 20 streams through the balancer land on both replicas, every
// transcript right. Then SIGTERM to the replica running a second job: its
// open streams end OK or UNAVAILABLE (never a hang or a wrong transcript),
// new streams go to the other without a failure, and the job resumes there
// from its newest checkpoint.
TEST(ReplicasTest, TwoReplicasBehindNginxShareStreamsAndJobsAndFailOver) {
  TwoReplicas r = StartTwo({"--shutdown-grace", "4"});
  ASSERT_TRUE(r.ok());
  auto &a = r.a, &b = r.b;
  std::string why;
  auto lb = GrpcBalancer::Start({a->address(), b->address()}, &why);
  ASSERT_NE(lb, nullptr) << why;
  const ProcessResult created =
      a->Client({"train", "--config", WriteJson(TinyTrainingConfig(10)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string job = FirstLine(created.out);
  const ProcessResult watched = b->Client({"watch", job}, 300);
  ASSERT_EQ(watched.exit_code, 0) << watched.err;
  ASSERT_EQ(GetJob(*b, job).state(), asr::v1::SUCCEEDED);
  const ProcessResult published = b->Client({"publish", job, "digits"});
  ASSERT_EQ(published.exit_code, 0) << published.err;

  // References straight from B; then 20 streams through nginx, 4 at a time.
  const std::vector<std::string> files = TestFiles();
  int rate = 0;
  std::map<std::string, std::string> pcm, ref;
  for (const std::string& f : files) {
    pcm[f] = Pcm16(f, &rate);
    const StreamResult r = RunStream(*b, Chunks(Linear16Config(rate), pcm[f], 3200));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ref[f] = FinalTranscript(r);
  }
  const double ok_a = OkStreams(*a), ok_b = OkStreams(*b);
  std::atomic<int> failed{0}, wrong{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = t; i < 20; i += 4) {
        const std::string& f = files[static_cast<size_t>(i) % files.size()];
        const StreamResult r = RunStream(lb->address(), Chunks(Linear16Config(rate), pcm[f], 3200));
        failed += !r.status.ok();
        wrong += r.status.ok() && FinalTranscript(r) != ref[f];
      }
    });
  }
  for (std::thread& t : senders) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(wrong, 0);
  const double served_a = OkStreams(*a) - ok_a, served_b = OkStreams(*b) - ok_b;
  EXPECT_GT(served_a, 0) << "replica a served no stream";
  EXPECT_GT(served_b, 0) << "replica b served no stream";
  EXPECT_EQ(served_a + served_b, 20);
  std::printf("20 streams through nginx: %.0f on a, %.0f on b\n", served_a, served_b);

  // Failover: SIGTERM to the replica running a job, with streams open.
  const std::string slow = SlowJob(*a, 150);
  ASSERT_TRUE(WaitFor(
      *a, slow, [](const asr::v1::Job& j) { return j.progress().step() >= 6; }, 120));
  const Roles roles = RolesOf(*a, *b, slow);
  ServerProcess& victim = *roles.runner;
  ServerProcess& survivor = *roles.other;
  const std::string &runner = roles.runner_name, &survivor_name = roles.other_name;
  const std::string long_pcm = pcm[files[0]] + pcm[files[1]] + pcm[files[2]];
  const StreamResult long_ref = RunStream(survivor, Chunks(Linear16Config(rate), long_pcm, 3200));
  ASSERT_TRUE(long_ref.status.ok());
  // Open streams, sent in real time (100 ms of audio every 100 ms).
  std::vector<StreamResult> open(6);
  std::vector<std::thread> openers;
  for (size_t i = 0; i < open.size(); ++i) {
    openers.emplace_back(
        [&, i] { open[i] = RunStream(lb->address(), Chunks(Linear16Config(rate), long_pcm, 3200), 100); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double sigterm_at = NowSeconds();
  ASSERT_TRUE(victim.process->Signal(SIGTERM));
  // New streams, one after another, from the SIGTERM until the victim has exited and 2 s more.
  struct NewStream {
    double start, seconds;
    grpc::Status status;
    bool right;
  };
  std::vector<NewStream> fresh;
  std::atomic<bool> victim_gone{false};
  std::thread prober([&] {
    double gone_at = 0;
    while (NowSeconds() - sigterm_at < 90 && (gone_at == 0 || NowSeconds() - gone_at < 2)) {
      if (gone_at == 0 && victim_gone) gone_at = NowSeconds();
      const std::string& f = files[fresh.size() % files.size()];
      const double start = NowSeconds();
      const StreamResult r = RunStream(lb->address(), Chunks(Linear16Config(rate), pcm[f], 3200));
      fresh.push_back({start - sigterm_at, NowSeconds() - start, r.status, FinalTranscript(r) == ref[f]});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // about 10 new streams a second
    }
  });
  const std::optional<int> exit_code = victim.process->WaitFor(120);
  const double exited_after = NowSeconds() - sigterm_at;
  victim_gone = true;
  prober.join();
  for (std::thread& t : openers) t.join();
  EXPECT_EQ(exit_code, std::optional<int>(0)) << victim.process->log();
  int open_ok = 0, open_unavailable = 0;
  for (const StreamResult& r : open) {
    if (r.status.ok()) {
      ++open_ok;
      EXPECT_EQ(FinalTranscript(r), FinalTranscript(long_ref))
          << "a stream that ended OK has the right transcript";
    } else {
      ++open_unavailable;
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << r.status.error_message();
    }
  }
  // A stream nginx sends to the victim in the instant its listener closes
  // (connected, request sent, then reset) cannot be retried by nginx: it
  // may end UNAVAILABLE (nginx's 502) or CANCELLED (a relayed reset), never
  // wrong. Seen in 4 of 10 runs, for the one stream opened within a
  // millisecond of the SIGTERM. Every later one must succeed.
  constexpr double kListenerClose = 0.1;
  int fresh_failed = 0, in_the_instant = 0, later = 0;
  double worst = 0;
  for (const NewStream& n : fresh) {
    const bool failed = !n.status.ok() || !n.right;
    fresh_failed += failed;
    later += n.start >= kListenerClose;
    worst = std::max(worst, n.seconds);
    if (failed && n.start < kListenerClose) {
      ++in_the_instant;
      EXPECT_TRUE(n.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  n.status.error_code() == grpc::StatusCode::CANCELLED)
          << n.status.error_code() << " " << n.status.error_message()
          << (n.status.ok() ? ": OK with a wrong transcript" : "");
      continue;
    }
    EXPECT_FALSE(failed) << "a new stream " << n.start << " s after the SIGTERM: code "
                         << n.status.error_code() << " " << n.status.error_message()
                         << (n.right ? "" : ", wrong transcript");
  }
  if (fresh_failed > in_the_instant) ADD_FAILURE() << "nginx's log:\n" << lb->log();
  EXPECT_GE(later, 10);
  // The job: checkpointed by the victim, resumed by the survivor.
  ASSERT_TRUE(WaitFor(
      survivor, slow, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 300))
      << GetJob(survivor, slow).DebugString() << survivor.process->log();
  EXPECT_EQ(GetJob(survivor, slow).progress().step(), 150);
  EXPECT_EQ(GetJob(survivor, slow).failures(), 0);
  const std::vector<asr::v1::JobEvent> events = AllEvents(survivor, slow);
  const asr::v1::JobEvent* resumed =
      FindMessage(events, "replica '" + survivor_name + "' runs the job (attempt 2)");
  ASSERT_NE(resumed, nullptr);
  const int64_t first_step_after = FirstStepAfter(events, resumed->sequence());
  EXPECT_GE(first_step_after, 6) << "resumed from the checkpoint written at the SIGTERM";
  std::printf(
      "failover (SIGTERM to replica %s, --shutdown-grace 4): exited after %.1f s; its open streams: %d OK, "
      "%d UNAVAILABLE; %zu new streams after the SIGTERM, %d failed (%d in the instant the listener "
      "closed), slowest %.2f s; job resumed on %s after %.1f s at step %lld\n",
      runner.c_str(), exited_after, open_ok, open_unavailable, fresh.size(), fresh_failed, in_the_instant,
      worst, survivor_name.c_str(), Seconds(resumed->time()) - sigterm_at,
      static_cast<long long>(first_step_after));
}

TEST(ReplicasTest, ADatabaseThatGoesAwayFailsJobCallsNotRecognitionAndRecovers) {
  const Shared shared = SharedState();
  ASSERT_NE(shared.db, nullptr);
  auto server = StartOn(shared);
  ASSERT_NE(server, nullptr);
  PlaceCorpus(*server, "c");
  const ProcessResult train = server->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest", "c/train.jsonl", "--watch"}, 300);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  ASSERT_EQ(server->Client({"publish", FirstLine(train.out), "digits"}).exit_code, 0);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  // Loaded once while the database is up; served from the cache after.
  ASSERT_TRUE(RunStream(*server, Chunks(Linear16Config(rate), pcm, 3200)).status.ok());
  ASSERT_TRUE(shared.db->Stop());
  // The training service's health follows the database; the server's stays SERVING.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return server->Client({"health", "--service", "asr.v1.TrainingService"}).out == "NOT_SERVING\n";
      },
      30));
  EXPECT_EQ(server->Client({"health"}).out, "SERVING\n");
  const ProcessResult jobs = server->Client({"jobs"});
  EXPECT_NE(jobs.exit_code, 0);
  EXPECT_NE(jobs.err.find("UNAVAILABLE"), std::string::npos) << jobs.err;
  asr::v1::RecognitionConfig pinned = Linear16Config(rate);
  pinned.set_model_version(1);
  for (const asr::v1::RecognitionConfig& c : {Linear16Config(rate), pinned}) {
    const StreamResult during = RunStream(*server, Chunks(c, pcm, 3200));
    EXPECT_TRUE(during.status.ok()) << "recognition with a cached model needs no database: "
                                    << during.status.error_message();
  }
  // A version never loaded cannot be served without the database: UNAVAILABLE, not "bad request".
  asr::v1::RecognitionConfig unknown = Linear16Config(rate);
  unknown.set_model("other");
  EXPECT_EQ(RunStream(*server, Chunks(unknown, pcm, 3200)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(server->process->running()) << server->process->log();
  ASSERT_TRUE(shared.db->Restart());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return server->Client({"health", "--service", "asr.v1.TrainingService"}).out == "SERVING\n";
      },
      30));
  const ProcessResult back = server->Client({"jobs"});
  EXPECT_EQ(back.exit_code, 0) << back.err;
  const std::string log = server->process->log();
  EXPECT_NE(log.find("job store unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("job store reachable again"), std::string::npos) << log;
}

}  // namespace
}  // namespace asr::testing
