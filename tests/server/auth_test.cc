// Bearer-token checks on client metadata: only the exact token passes, the
// scheme's case is ignored, and token files are read strictly.
#include "server/auth.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.h"

namespace asr::server {
namespace {

grpc::StatusCode CodeFor(const Authenticator& auth, const std::string& header,
                         const std::string& key = "authorization") {
  Authenticator::Metadata md;
  md.emplace(key, header);
  return auth.CheckMetadata(md).error_code();
}

TEST(AuthenticatorTest, OnlyTheExactTokenPasses) {
  const Authenticator auth("s3cret");
  ASSERT_TRUE(auth.enabled());
  EXPECT_EQ(CodeFor(auth, "Bearer s3cret"), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor(auth, "bearer s3cret"), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor(auth, "BEARER s3cret"), grpc::StatusCode::OK);
  for (const char* wrong : {"Bearer s3cretEXTRA", "Bearer s3cre", "Bearer s3cret ", "Bearer  s3cret",
                            "Bearer S3CRET", "Bearer s3creT", "Bearer ", "Bearer", "", "s3cret",
                            "Basic s3cret", "Bearers3cret", "Bearer s3cret\n"}) {
    EXPECT_EQ(CodeFor(auth, wrong), grpc::StatusCode::UNAUTHENTICATED) << "'" << wrong << "'";
  }
  // Values with a NUL after the token are longer than the token.
  EXPECT_EQ(CodeFor(auth, std::string("Bearer s3cret\0", 14)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CodeFor(auth, std::string("Bearer s3cret\0x", 15)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CodeFor(auth, "Bearer s3cret", "x-authorization"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(auth.CheckMetadata({}).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(auth.CheckMetadata({}).error_message(), "missing bearer token");
}

TEST(AuthenticatorTest, WithoutATokenEverythingPasses) {
  const Authenticator off;
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.CheckMetadata({}).ok());
  EXPECT_EQ(CodeFor(off, "Bearer anything"), grpc::StatusCode::OK);
}

TEST(AuthenticatorTest, TokenFilesAreTrimmedAndMustHoldAToken) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/token") << "  s3cret\r\n\n";
  auto auth = Authenticator::FromFile(dir + "/token");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(CodeFor(*auth, "Bearer s3cret"), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor(*auth, "Bearer   s3cret\r\n\n"), grpc::StatusCode::UNAUTHENTICATED);
  std::ofstream(dir + "/blank") << " \n\t\n";
  auto blank = Authenticator::FromFile(dir + "/blank");
  ASSERT_FALSE(blank.ok());
  EXPECT_NE(blank.status().message().find("is empty"), std::string::npos) << blank.status();
  auto missing = Authenticator::FromFile(dir + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir + "/missing"), std::string::npos) << missing.status();
  auto none = Authenticator::FromFile("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->enabled());
}

}  // namespace
}  // namespace asr::server
