// Servers sharing PostgreSQL and a model store (issue 31): what one server
// recorded and published, a server started afresh on the same database and
// store (another pod, its own empty state directory) sees and serves; and
// a database that goes away under a running server makes job calls
// UNAVAILABLE without harming recognition, and recovers.
#include <gtest/gtest.h>

#include <fstream>

#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

struct Shared {
  std::unique_ptr<PostgresServer> db;
  std::string uri, password_file, models;
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
  return s;
}

std::unique_ptr<ServerProcess> StartOn(const Shared& s) {
  std::string why;
  auto server = ServerProcess::Start(
      {"--database", s.uri, "--database-password-file", s.password_file, "--model-store", s.models}, &why);
  EXPECT_NE(server, nullptr) << why;
  return server;
}

TEST(ReplicasTest, AServerOnTheSameDatabaseAndStoreSeesJobsAndServesModels) {
  const Shared shared = SharedState();
  ASSERT_NE(shared.db, nullptr);
  auto first = StartOn(shared);
  ASSERT_NE(first, nullptr);
  EXPECT_NE(first->process->log().find("job store: postgresql, schema version 2"), std::string::npos);
  PlaceCorpus(*first, "c");
  const ProcessResult train = first->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest", "c/train.jsonl", "--watch"}, 300);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  ASSERT_EQ(first->Client({"publish", job, "digits"}).exit_code, 0);
  // A second server: fresh state directory, same database and model store.
  auto second = StartOn(shared);
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
  const Shared shared = SharedState();
  ASSERT_NE(shared.db, nullptr);
  auto a = StartOn(shared);
  auto b = StartOn(shared);  // both up before the job exists (see docs/deployment.md)
  ASSERT_TRUE(a && b);
  PlaceCorpus(*a, "c");
  const ProcessResult created =
      a->Client({"train", "--config", WriteJson(TinyTrainingConfig(40)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string job = FirstLine(created.out);
  const ProcessResult watched = b->Client({"--json", "watch", job}, 300);
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_NE(watched.out.find("SUCCEEDED"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("\"progress\":{\"step\":\"40\""), std::string::npos)
      << "progress events came through B:\n"
      << watched.out;
  EXPECT_EQ(GetJob(*b, job).state(), asr::v1::SUCCEEDED);
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
