// SHA-256 against the FIPS 180-2 example vectors (NIST), one-shot and fed in
// pieces of every size.
#include "model/base/sha256.h"

#include <gtest/gtest.h>

namespace asr {
namespace {

constexpr char kTwoBlocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

TEST(Sha256Test, MatchesTheFipsExamples) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(kTwoBlocks), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Digest("abc").size(), 32u);
}

TEST(Sha256Test, IncrementalEqualsOneShotForEveryPieceSize) {
  const std::string data = std::string(kTwoBlocks) + std::string(1000, 'a');
  for (size_t piece = 1; piece <= 130; ++piece) {
    Sha256 sha;
    for (size_t off = 0; off < data.size(); off += piece)
      sha.Update(data.data() + off, std::min(piece, data.size() - off));
    EXPECT_EQ(sha.HexDigest(), Sha256Hex(data)) << "piece " << piece;
  }
}

}  // namespace
}  // namespace asr
