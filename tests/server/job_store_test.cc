#include "server/job_store.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace asr::server
