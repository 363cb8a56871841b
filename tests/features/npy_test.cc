#include "features/npy.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.h"

namespace asr {
namespace {

TEST(NpyTest, RoundTripsShapeAndValues) {
  const std::string path = testing::MakeTempDir() + "/m.npy";
  Matrix m{3, 2, {1.f, -2.5f, 3.f, 4.f, 1e-7f, -0.f}};
  ASSERT_TRUE(WriteNpy(path, m).ok());
  auto r = ReadNpy(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 3);
  EXPECT_EQ(r->cols, 2);
  EXPECT_EQ(r->data, m.data);
}

TEST(NpyTest, HeaderIsNumpyVersion1AlignedTo64Bytes) {
  const std::string path = testing::MakeTempDir() + "/m.npy";
  ASSERT_TRUE(WriteNpy(path, Matrix{1, 1, {0.f}}).ok());
  const std::string bytes = testing::ReadFileOrEmpty(path);
  ASSERT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  const size_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_NE(bytes.find("'descr': '<f4'"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header_len + 4);
}

TEST(NpyTest, RejectsGarbageAndMismatchedSizes) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/bad.npy") << "not numpy at all";
  auto r = ReadNpy(dir + "/bad.npy");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.npy"), std::string::npos);
  EXPECT_FALSE(ReadNpy(dir + "/missing.npy").ok());
  EXPECT_FALSE(WriteNpy(dir + "/x.npy", Matrix{2, 2, {1.f}}).ok());
}

}  // namespace
}  // namespace asr
