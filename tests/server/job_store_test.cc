// The job store's one test suite, run against both backends: SQLite in a
// temporary file, and a real PostgreSQL 15 server started for this process
// (tests/support/postgres_server.h), each test on a fresh database.
#include "server/job_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "server/sqlite_db.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace asr::server {
namespace {

asr::v1::Job MakeJob(const std::string& id, asr::v1::JobState s, int64_t created) {
  asr::v1::Job j;
  j.set_id(id);
  j.set_state(s);
  j.mutable_create_time()->set_seconds(created);
  return j;
}

testing::PostgresServer* Postgres() {
  static const std::unique_ptr<testing::PostgresServer> server = [] {
    std::string why;
    auto s = testing::PostgresServer::Start(&why);
    if (!s) ADD_FAILURE() << why;
    return s;
  }();
  return server.get();
}

class JobStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A fresh, empty database of the backend under test.
  void SetUp() override {
    if (GetParam() == "sqlite") {
      target_ = testing::MakeTempDir() + "/jobs.sqlite";
    } else {
      ASSERT_NE(Postgres(), nullptr);
      const std::string db = Postgres()->NewDatabase();
      ASSERT_FALSE(db.empty());
      target_ = Postgres()->Uri(db);
      password_ = Postgres()->password();
    }
  }
  std::unique_ptr<JobStore> Open() {
    auto store = JobStore::Open(target_, password_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string target_, password_;
};

TEST_P(JobStoreTest, JobsPersistAcrossReopenAndFilterByState) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_STREQ(store->backend(), GetParam().c_str());
    ASSERT_TRUE(store->PutJob(MakeJob("a", asr::v1::QUEUED, 10)).ok());
    ASSERT_TRUE(store->PutJob(MakeJob("b", asr::v1::RUNNING, 20)).ok());
    ASSERT_TRUE(store->PutJob(MakeJob("c", asr::v1::QUEUED, 30)).ok());
    ASSERT_TRUE(store->PutJob(MakeJob("c", asr::v1::QUEUED, 30)).ok()) << "a put replaces";
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto all = store->ListJobs(asr::v1::JOB_STATE_UNSPECIFIED, 10, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id(), "c");  // newest first
  auto queued = store->JobsInState(asr::v1::QUEUED);
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].id(), "a");  // oldest first
  EXPECT_EQ(*store->CountJobs(asr::v1::RUNNING), 1);
  EXPECT_EQ(store->ListJobs(asr::v1::JOB_STATE_UNSPECIFIED, 1, 1)->at(0).id(), "b");
  EXPECT_EQ(store->ListJobs(asr::v1::QUEUED, 1, 1)->at(0).id(), "a");
  EXPECT_EQ(store->GetJob("zz").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(JobStoreTest, EventsGetConsecutiveSequenceNumbersPerJob) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  asr::v1::JobEvent e;
  e.set_message("x");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(store->AppendEvent("a", e)->sequence(), i + 1);
  EXPECT_EQ(store->AppendEvent("b", e)->sequence(), 1);
  auto after = store->EventsAfter("a", 2, 100);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].sequence(), 3);
  EXPECT_EQ(store->EventsAfter("a", 0, 2)->size(), 2u);
  ASSERT_TRUE(store->PutJob(MakeJob("a", asr::v1::FAILED, 1)).ok());
  ASSERT_TRUE(store->DeleteJob("a").ok());
  EXPECT_TRUE(store->EventsAfter("a", 0, 100)->empty());
  EXPECT_EQ(store->GetJob("a").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(JobStoreTest, ModelVersionsAndDatasetsPersist) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  asr::v1::ModelVersion m;
  m.set_name("digits");
  EXPECT_EQ(store->AddModelVersion(m)->version(), 1);
  EXPECT_EQ(store->AddModelVersion(m)->version(), 2);
  m.set_name("words");
  EXPECT_EQ(store->AddModelVersion(m)->version(), 1);
  EXPECT_EQ(store->ListModels("digits")->size(), 2u);
  EXPECT_EQ(store->ListModels("")->size(), 3u);
  asr::v1::Dataset d;
  d.set_id("ds-1");
  d.set_name("tiny");
  d.set_bytes(123);
  ASSERT_TRUE(store->PutDataset(d).ok());
  EXPECT_EQ(store->GetDataset("ds-1")->bytes(), 123);
  EXPECT_EQ(store->ListDatasets()->size(), 1u);
  EXPECT_EQ(store->GetDataset("ds-2").status().code(), absl::StatusCode::kNotFound);
}

// Several connections (replicas) claim queued jobs at once: every job is
// claimed exactly once, and becomes RUNNING.
TEST_P(JobStoreTest, EachQueuedJobIsClaimedByExactlyOneCaller) {
  auto setup = Open();
  ASSERT_NE(setup, nullptr);
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i)
    ASSERT_TRUE(setup->PutJob(MakeJob("j" + std::to_string(i), asr::v1::QUEUED, i)).ok());
  std::vector<std::unique_ptr<JobStore>> replicas;
  for (int r = 0; r < 3; ++r) replicas.push_back(Open());
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      while (true) {
        auto job = replicas[static_cast<size_t>(r)]->ClaimQueuedJob("replica-" + std::to_string(r));
        if (!job.ok()) {
          ADD_FAILURE() << job.status();
          return;
        }
        if (!job->has_value()) return;
        EXPECT_EQ((*job)->state(), asr::v1::RUNNING);
        std::lock_guard<std::mutex> lock(mu);
        claimed.insert((*job)->id());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), static_cast<size_t>(kJobs))
      << "a job was claimed twice";
  EXPECT_EQ(*setup->CountJobs(asr::v1::RUNNING), kJobs);
  EXPECT_EQ(*setup->CountJobs(asr::v1::QUEUED), 0);
  EXPECT_FALSE(setup->ClaimQueuedJob("late")->has_value());
}

// Concurrent writers of one job's events and one model's versions never get
// the same number.
TEST_P(JobStoreTest, ConcurrentAppendsNumberWithoutGapsOrRepeats) {
  std::vector<std::unique_ptr<JobStore>> replicas;
  for (int r = 0; r < 3; ++r) replicas.push_back(Open());
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      asr::v1::JobEvent e;
      asr::v1::ModelVersion m;
      m.set_name("shared");
      for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(replicas[static_cast<size_t>(r)]->AppendEvent("j", e).ok());
        EXPECT_TRUE(replicas[static_cast<size_t>(r)]->AddModelVersion(m).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto events = replicas[0]->EventsAfter("j", 0, 1000);
  ASSERT_EQ(events->size(), 60u);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].sequence(), static_cast<int64_t>(i + 1));
  auto models = replicas[0]->ListModels("shared");
  ASSERT_EQ(models->size(), 60u);
  EXPECT_EQ(models->back().version(), 60);
}

TEST_P(JobStoreTest, MigrationsAreVersionedAndAppliedOnce) {
  EXPECT_EQ(Open()->schema_version(), 3);
  auto again = Open();  // nothing left to apply, nothing applied twice
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->schema_version(), 3);
  ASSERT_TRUE(again->PutJob(MakeJob("kept", asr::v1::QUEUED, 1)).ok());
  EXPECT_TRUE(Open()->GetJob("kept").ok());
}

// A running job's record is written only by the replica that holds it:
// a replica whose job was taken over learns it at its next write.
TEST_P(JobStoreTest, WritesToAJobAreFencedByItsReplica) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutJob(MakeJob("j", asr::v1::QUEUED, 1)).ok());
  auto claimed = store->ClaimQueuedJob("a");
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  asr::v1::Job job = **claimed;
  EXPECT_EQ(job.replica(), "a");
  EXPECT_EQ(store->GetJob("j")->replica(), "a");
  job.mutable_progress()->set_step(7);
  EXPECT_TRUE(store->PutJob(job, "a").ok());
  const absl::Status stale = store->PutJob(job, "b");
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.message().find("run by replica 'a'"), std::string::npos) << stale;
  EXPECT_EQ(store->PutJob(job).code(), absl::StatusCode::kFailedPrecondition) << "an unowned writer";
  job.set_state(asr::v1::QUEUED);  // a handover: a writes it back unowned
  job.clear_replica();
  ASSERT_TRUE(store->PutJob(job, "a").ok());
  EXPECT_EQ(store->PutJob(job, "a").code(), absl::StatusCode::kFailedPrecondition) << "a let it go";
  EXPECT_EQ(store->GetJob("j")->progress().step(), 7);
}

TEST_P(JobStoreTest, ALeaseIsHeldByOneInstanceUntilItExpiresOrIsReleased) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->RenewLease("a", "first", 30).ok());
  ASSERT_TRUE(store->RenewLease("a", "first", 30).ok());
  const absl::Status twin = store->RenewLease("a", "second", 30);
  EXPECT_EQ(twin.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(twin.message().find("--replica-name"), std::string::npos) << twin;
  ASSERT_TRUE(store->ReleaseLease("a", "first").ok());
  EXPECT_TRUE(store->RenewLease("a", "second", 30).ok()) << "released";
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(store->RenewLease("a", "third", 1).ok()) << "expired (1 s lease, renewed 1.2 s ago)";
}

// Jobs of a replica whose lease expired go back to the queue, once; those
// of live replicas and unowned ones stay.
TEST_P(JobStoreTest, JobsOfAReplicaThatLostItsLeaseAreQueuedAgain) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (const char* id : {"of-live", "of-dead"})
    ASSERT_TRUE(store->PutJob(MakeJob(id, asr::v1::QUEUED, 1)).ok());
  ASSERT_TRUE(store->RenewLease("live", "i1", 60).ok());
  ASSERT_TRUE(store->RenewLease("dead", "i2", 60).ok());
  ASSERT_TRUE(store->ClaimQueuedJob("dead")->has_value());  // "of-dead": oldest by id at equal times
  ASSERT_TRUE(store->ClaimQueuedJob("live")->has_value());
  EXPECT_TRUE(store->RequeueJobsOfLostReplicas(60)->empty()) << "both leases are fresh";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(store->RenewLease("live", "i1", 60).ok());
  auto lost = store->RequeueJobsOfLostReplicas(1, [](const asr::v1::Job& job) {
    asr::v1::JobEvent e;
    e.set_message("lost by " + job.replica());
    return std::vector<asr::v1::JobEvent>{e};
  });
  ASSERT_TRUE(lost.ok()) << lost.status();
  auto events = store->EventsAfter("of-dead", 0, 10);
  ASSERT_TRUE(events.ok() && events->size() == 1u);
  EXPECT_EQ((*events)[0].message(), "lost by dead") << "appended with the requeue";
  EXPECT_TRUE(store->EventsAfter("of-live", 0, 10)->empty());
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ((*lost)[0].id(), "of-dead");
  EXPECT_EQ((*lost)[0].replica(), "dead") << "returned as it was";
  const asr::v1::Job requeued = *store->GetJob("of-dead");
  EXPECT_EQ(requeued.state(), asr::v1::QUEUED);
  EXPECT_EQ(requeued.replica(), "");
  EXPECT_EQ(store->GetJob("of-live")->state(), asr::v1::RUNNING);
  EXPECT_TRUE(store->RequeueJobsOfLostReplicas(1)->empty()) << "only once";
  auto again = store->ClaimQueuedJob("live");
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->id(), "of-dead");
}

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// A database written by a newer server is refused, not misread.
TEST(JobStoreSchemaTest, ANewerSchemaIsRefused) {
  const std::string path = testing::MakeTempDir() + "/jobs.sqlite";
  ASSERT_TRUE(JobStore::Open(path).ok());
  ASSERT_TRUE((*SqliteDb::Open(path))->Exec("INSERT INTO schema_migrations (version) VALUES (99)").ok());
  auto store = JobStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99 is newer"), std::string::npos) << store.status();
}

// PostgreSQL going away: calls fail with UNAVAILABLE (never a crash or a
// hang), and the store reconnects by itself once the server is back.
TEST(JobStorePostgresTest, ADatabaseThatGoesAwayIsUnavailableThenRecovers) {
  ASSERT_NE(Postgres(), nullptr);
  const std::string uri = Postgres()->Uri(Postgres()->NewDatabase());
  auto store = JobStore::Open(uri, Postgres()->password());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->PutJob(MakeJob("a", asr::v1::QUEUED, 1)).ok());
  ASSERT_TRUE(Postgres()->Stop());
  const auto down = (*store)->GetJob("a");
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_EQ((*store)->PutJob(MakeJob("b", asr::v1::QUEUED, 2)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(JobStore::Open(uri, Postgres()->password()).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(Postgres()->Restart());
  EXPECT_TRUE((*store)->GetJob("a").ok()) << "reconnects by itself";
  EXPECT_TRUE((*store)->PutJob(MakeJob("b", asr::v1::QUEUED, 2)).ok());
}

TEST(JobStorePostgresTest, AWrongPasswordIsUnavailableWithoutShowingIt) {
  ASSERT_NE(Postgres(), nullptr);
  auto store = JobStore::Open(Postgres()->Uri("postgres"), "not-the-password");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("password authentication failed"), std::string::npos)
      << store.status();
  EXPECT_EQ(store.status().message().find("not-the-password"), std::string::npos) << store.status();
}

// A full disk (RLIMIT_FSIZE stands in for it, in a child process): writes
// fail with a status that says so, the process lives on, and what was
// stored before is intact.
// In a child: a store on a disk that fills up after its first job. 0 when
// the next write fails with a status naming SQLite and the first job reads back.
int WriteToAFullDisk(const std::string& path) {
  auto store = JobStore::Open(path);
  if (!store.ok() || !(*store)->PutJob(MakeJob("before", asr::v1::QUEUED, 1)).ok()) return 10;
  signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal, as on a full disk
  struct stat st {};
  ::stat(path.c_str(), &st);
  const rlimit limit{static_cast<rlim_t>(st.st_size), static_cast<rlim_t>(st.st_size)};
  setrlimit(RLIMIT_FSIZE, &limit);
  asr::v1::Job big = MakeJob("big", asr::v1::QUEUED, 2);
  big.set_error(std::string(1 << 20, 'x'));
  const absl::Status put = (*store)->PutJob(big);
  std::fprintf(stderr, "put: %s\n", put.ToString().c_str());
  if (put.ok()) return 11;
  if (put.message().find("sqlite") == absl::string_view::npos) return 12;
  return (*store)->GetJob("before").ok() ? 0 : 13;
}

TEST(JobStoreSqliteTest, AFullDiskIsAnErrorNotACrash) {
  const std::string path = testing::MakeTempDir() + "/jobs.sqlite";
  EXPECT_EXIT(std::_Exit(WriteToAFullDisk(path)), ::testing::ExitedWithCode(0), "put: .*sqlite");
}

}  // namespace
}  // namespace asr::server
