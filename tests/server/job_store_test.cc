#include "server/job_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

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

TEST(JobStoreTest, JobsPersistAcrossReopenAndFilterByState) {
  const std::string path = testing::MakeTempDir() + "/jobs.sqlite";
  {
    auto store = JobStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->PutJob(MakeJob("a", asr::v1::QUEUED, 10)).ok());
    ASSERT_TRUE((*store)->PutJob(MakeJob("b", asr::v1::RUNNING, 20)).ok());
    ASSERT_TRUE((*store)->PutJob(MakeJob("c", asr::v1::QUEUED, 30)).ok());
  }
  auto store = JobStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto all = (*store)->ListJobs(asr::v1::JOB_STATE_UNSPECIFIED, 10, 0);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id(), "c");  // newest first
  auto queued = (*store)->JobsInState(asr::v1::QUEUED);
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].id(), "a");  // oldest first
  EXPECT_EQ(*(*store)->CountJobs(asr::v1::RUNNING), 1);
  EXPECT_EQ((*store)->ListJobs(asr::v1::JOB_STATE_UNSPECIFIED, 1, 1)->at(0).id(), "b");
  EXPECT_EQ((*store)->GetJob("zz").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobStoreTest, EventsGetConsecutiveSequenceNumbersPerJob) {
  auto store = JobStore::Open(testing::MakeTempDir() + "/jobs.sqlite");
  asr::v1::JobEvent e;
  e.set_message("x");
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*store)->AppendEvent("a", e)->sequence(), i + 1);
  EXPECT_EQ((*store)->AppendEvent("b", e)->sequence(), 1);
  auto after = (*store)->EventsAfter("a", 2, 100);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].sequence(), 3);
  EXPECT_EQ((*store)->EventsAfter("a", 0, 2)->size(), 2u);
  ASSERT_TRUE((*store)->PutJob(MakeJob("a", asr::v1::FAILED, 1)).ok());
  ASSERT_TRUE((*store)->DeleteJob("a").ok());
  EXPECT_TRUE((*store)->EventsAfter("a", 0, 100)->empty());
}

TEST(JobStoreTest, ModelVersionsCountUpPerName) {
  auto store = JobStore::Open(testing::MakeTempDir() + "/jobs.sqlite");
  asr::v1::ModelVersion m;
  m.set_name("digits");
  EXPECT_EQ((*store)->AddModelVersion(m)->version(), 1);
  EXPECT_EQ((*store)->AddModelVersion(m)->version(), 2);
  m.set_name("words");
  EXPECT_EQ((*store)->AddModelVersion(m)->version(), 1);
  EXPECT_EQ((*store)->ListModels("digits")->size(), 2u);
  EXPECT_EQ((*store)->ListModels("")->size(), 3u);
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

TEST(JobStoreTest, AFullDiskIsAnErrorNotACrash) {
  const std::string path = testing::MakeTempDir() + "/jobs.sqlite";
  EXPECT_EXIT(std::_Exit(WriteToAFullDisk(path)), ::testing::ExitedWithCode(0), "put: .*sqlite");
}

}  // namespace
}  // namespace asr::server
