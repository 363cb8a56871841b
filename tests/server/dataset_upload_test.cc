#include "server/dataset_upload.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "model/base/sha256.h"
#include "tests/support/process.h"

namespace asr::server {
namespace {

using Req = asr::v1::UploadDatasetRequest;

Req Begin() {
  Req r;
  r.mutable_begin()->set_name("n");
  return r;
}
Req Header(const std::string& path, const std::string& content) {
  Req r;
  r.mutable_file()->set_path(path);
  r.mutable_file()->set_size(static_cast<int64_t>(content.size()));
  r.mutable_file()->set_sha256(Sha256Hex(content));
  return r;
}
Req Chunk(const std::string& c) {
  Req r;
  r.set_chunk(c);
  return r;
}
Req End() {
  Req r;
  r.mutable_end();
  return r;
}

class DatasetUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir();
    std::filesystem::create_directories(root_ + "/datasets");
    store_ = std::move(*JobStore::Open(root_ + "/jobs.sqlite"));
    // A tiny valid WAV for the manifest to point at.
    wav_ = testing::ReadFileOrEmpty(std::string(ASR_SOURCE_DIR) + "/tests/golden/features/silence16k.wav");
  }
  std::string root_, wav_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(DatasetUploadTest, StoresVerifiedFilesAndCountsManifestEntries) {
  const std::string manifest = R"({"audio_filepath": "a/x.wav", "duration": 0.5, "text": "oh"})"
                               "\n";
  DatasetUpload up(root_, {}, store_.get());
  for (const Req& r : {Begin(), Header("a/x.wav", wav_), Chunk(wav_.substr(0, 100)), Chunk(wav_.substr(100)),
                       Header("train.jsonl", manifest), Chunk(manifest), End()}) {
    ASSERT_TRUE(up.Accept(r).ok());
  }
  auto d = up.Finish();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->files(), 2);
  EXPECT_EQ(d->utterances().at("train.jsonl"), 1);
  EXPECT_TRUE(std::filesystem::exists(root_ + "/datasets/" + d->id() + "/a/x.wav"));
  EXPECT_EQ(store_->GetDataset(d->id())->name(), "n");
}

TEST_F(DatasetUploadTest, RejectsBadStreamsAndLeavesNothingBehind) {
  auto run = [&](const std::vector<Req>& parts, UploadLimits limits = {}) {
    DatasetUpload up(root_, limits, store_.get());
    for (const Req& r : parts) {
      if (absl::Status st = up.Accept(r); !st.ok()) return st;
    }
    return up.Finish().status();
  };
  EXPECT_NE(run({Header("x", "abc")}).message().find("before begin"), std::string::npos);
  EXPECT_NE(run({Begin(), Chunk("abc")}).message().find("without a file header"), std::string::npos);
  Req bad_sha = Header("x.wav", "abc");
  bad_sha.mutable_file()->set_sha256(Sha256Hex("abd"));
  EXPECT_NE(run({Begin(), bad_sha, Chunk("abc"), End()}).message().find("sha256 mismatch"),
            std::string::npos);
  EXPECT_NE(run({Begin(), Header("x.wav", "abc"), Chunk("ab"), End()}).message().find("received 2 bytes"),
            std::string::npos);
  EXPECT_NE(run({Begin(), Header("x.wav", "abc"), Chunk("abcd")}).message().find("more bytes"),
            std::string::npos);
  EXPECT_EQ(run({Begin(), Header("../x", "abc")}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run({Begin(), Header("a", "1"), Chunk("1"), Header("b", "2")}, {int64_t{1} << 20, 1}).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(run({Begin(), Header("a", std::string(10, 'x'))}, {5, 100}).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_NE(run({Begin(), Header("a.wav", "abc"), Chunk("abc"), End()}).message().find("no manifest"),
            std::string::npos);
  EXPECT_NE(run({Begin(), Header("a.wav", "abc"), Chunk("abc")}).message().find("before end"),
            std::string::npos);
  const absl::Status file_as_folder =
      run({Begin(), Header("a.wav", "abc"), Chunk("abc"), Header("a.wav/b.wav", "abc"), Chunk("abc"), End()});
  EXPECT_EQ(file_as_folder.code(), absl::StatusCode::kInvalidArgument) << file_as_folder;
  EXPECT_NE(file_as_folder.message().find("'a.wav' was sent as a file"), std::string::npos) << file_as_folder;
  EXPECT_TRUE(std::filesystem::is_empty(root_ + "/datasets"));
}

// Manifest audio is confined at upload as training confines it, before any
// file outside is touched; messages never show the data root.
TEST_F(DatasetUploadTest, ManifestAudioOutsideTheDataRootIsRejectedAtUpload) {
  auto upload = [&](const std::string& manifest) {
    DatasetUpload up(root_, {}, store_.get());
    for (const Req& r : {Begin(), Header("a/x.wav", wav_), Chunk(wav_), Header("train.jsonl", manifest),
                         Chunk(manifest), End()}) {
      if (absl::Status st = up.Accept(r); !st.ok()) return st;
    }
    return up.Finish().status();
  };
  const std::string good = R"({"audio_filepath": "a/x.wav", "duration": 0.5, "text": "oh"})"
                           "\n";
  for (const std::string outside :
       {"/etc/passwd", "/nonexistent/x.wav", "../../../x.wav", "a/../../../../y.wav"}) {
    const absl::Status st = upload(good + R"({"audio_filepath": ")" + outside + R"(", "text": "oh"})" + "\n");
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << outside;
    EXPECT_NE(st.message().find("train.jsonl:2: audio file '" + outside + "' is outside the data root"),
              std::string::npos)
        << st;
    EXPECT_EQ(st.message().find(root_), std::string::npos) << st;
  }
  // Inside the root, a missing file (no duration given) is skipped and
  // named relative to the data root.
  const absl::Status missing = upload(R"({"audio_filepath": "gone.wav", "text": "oh"})"
                                      "\n");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("/train.jsonl:1: audio file 'datasets/ds-"), std::string::npos) << missing;
  EXPECT_NE(missing.message().find("/gone.wav' is missing"), std::string::npos) << missing;
  EXPECT_EQ(missing.message().find(root_), std::string::npos) << missing;
  EXPECT_EQ(missing.message().find(".incoming"), std::string::npos) << missing;
  EXPECT_TRUE(std::filesystem::is_empty(root_ + "/datasets"));
}

}  // namespace
}  // namespace asr::server
