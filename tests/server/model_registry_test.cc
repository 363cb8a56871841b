// The model registry's content-addressed store: a published file is named
// by its SHA-256, a second registry on the same store and database (another
// replica) loads it, identical files are stored once, and a file that no
// longer matches its recorded hash is refused (DATA_LOSS), not served.
#include "server/model_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/base/sha256.h"
#include "model/model_io.h"
#include "tests/model/recognizer/test_model.h"
#include "tests/support/process.h"

namespace asr::server {
namespace {

namespace fs = std::filesystem;

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    source_ = dir_ + "/source.asrmodel";
    AcousticModel network = testing::RandomModel(3, "random:1")->network;
    ASSERT_TRUE(SaveModel(source_, network, {}).ok());
    store_ = std::move(*JobStore::Open(dir_ + "/jobs.sqlite"));
  }
  std::string dir_, source_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(ModelRegistryTest, PublishedFilesAreNamedByTheirSha256AndSharedByReplicas) {
  ModelRegistry registry(store_.get(), dir_ + "/models");
  auto v1 = registry.Publish("digits", source_, {});
  ASSERT_TRUE(v1.ok()) << v1.status();
  ASSERT_EQ(v1->sha256().size(), 64u);
  const std::string path = dir_ + "/models/sha256/" + v1->sha256() + ".asrmodel";
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(Sha256Hex(testing::ReadFileOrEmpty(path)), v1->sha256());
  // Identical bytes are stored once; the version number still counts up.
  auto v2 = registry.Publish("digits", source_, {});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version(), 2);
  EXPECT_EQ(v2->sha256(), v1->sha256());
  // Another replica: its own database connection and registry, the same store.
  auto other_store = JobStore::Open(dir_ + "/jobs.sqlite");
  ASSERT_TRUE(other_store.ok());
  ModelRegistry replica(other_store->get(), dir_ + "/models");
  auto loaded = replica.Get("digits", 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->label, "digits:1");
  EXPECT_EQ(replica.List("digits")->at(0).sha256(), v1->sha256());
}

TEST_F(ModelRegistryTest, AFileThatNoLongerMatchesItsHashIsRefused) {
  ModelRegistry registry(store_.get(), dir_ + "/models");
  auto v = registry.Publish("digits", source_, {});
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(registry.Get("digits", 1).ok());  // loaded and cached before the damage
  const std::string path = dir_ + "/models/sha256/" + v->sha256() + ".asrmodel";
  std::string bytes = testing::ReadFileOrEmpty(path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  ModelRegistry replica(store_.get(), dir_ + "/models");
  auto damaged = replica.Get("digits", 1);
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(damaged.status().message().find("model digits:1: its file's SHA-256 is"), std::string::npos)
      << damaged.status();
  EXPECT_TRUE(registry.Get("digits", 1).ok()) << "a version already loaded keeps serving";
  fs::remove(path);
  EXPECT_EQ(replica.Get("digits", 1).status().code(), absl::StatusCode::kDataLoss);
}

// Versions published before the store was content-addressed (no hash
// recorded) still load from <store>/<name>/<version>.asrmodel.
TEST_F(ModelRegistryTest, VersionsFromBeforeTheHashStillLoad) {
  asr::v1::ModelVersion old;
  old.set_name("legacy");
  ASSERT_TRUE(store_->AddModelVersion(old).ok());
  fs::create_directories(dir_ + "/models/legacy");
  fs::copy_file(source_, dir_ + "/models/legacy/1.asrmodel");
  ModelRegistry registry(store_.get(), dir_ + "/models");
  auto loaded = registry.Get("legacy", 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->label, "legacy:1");
}

}  // namespace
}  // namespace asr::server
