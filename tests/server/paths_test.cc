#include "server/paths.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/process.h"

namespace asr::server {
namespace {

TEST(ConfinedPathTest, AcceptsRelativePathsInsideTheRoot) {
  const std::string root = testing::MakeTempDir();
  auto p = ConfinedPath(root, "sets/a/train.jsonl", "f");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, std::filesystem::weakly_canonical(root).string() + "/sets/a/train.jsonl");
  EXPECT_TRUE(ConfinedPath(root, "a/../b.jsonl", "f").ok());
}

TEST(ConfinedPathTest, RejectsEscapesAbsolutePathsLinksAndOddCharacters) {
  const std::string root = testing::MakeTempDir();
  std::filesystem::create_symlink("/tmp", root + "/out");
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "", "out/x", "a;rm -rf", "a\\b", "..", "."}) {
    auto p = ConfinedPath(root, bad, "dataset.train_manifest");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(p.status().message().find("dataset.train_manifest"), 0u) << p.status();
  }
}

}  // namespace
}  // namespace asr::server
