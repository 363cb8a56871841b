#include "model/bundle.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "model/base/atomic_file.h"
#include "model/base/sha256.h"

namespace asr {
namespace {

constexpr char kMagic[] = "ASRBNDL1";
constexpr size_t kMagicLen = 8;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Reads a little-endian integer of `n` bytes at *pos; false if out of data.
bool GetUint(const std::string& in, size_t* pos, int n, uint64_t* v) {
  if (in.size() < *pos + static_cast<size_t>(n)) return false;
  *v = 0;
  for (int i = 0; i < n; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>(in[*pos + i])) << (8 * i);
  *pos += static_cast<size_t>(n);
  return true;
}

}  // namespace

absl::Status WriteBundleAtomically(const std::string& path, const Bundle& b) {
  std::string out(kMagic, kMagicLen);
  PutU32(&out, static_cast<uint32_t>(b.kind.size()));
  out += b.kind;
  PutU64(&out, b.json.size());
  out += b.json;
  PutU32(&out, static_cast<uint32_t>(b.blobs.size()));
  for (const auto& [name, bytes] : b.blobs) {
    PutU32(&out, static_cast<uint32_t>(name.size()));
    out += name;
    PutU64(&out, bytes.size());
    out += bytes;
  }
  out += Sha256Digest(out);
  return WriteFileAtomically(path, out);
}

absl::StatusOr<Bundle> ReadBundle(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  auto corrupt = [&path](const std::string& why) {
    return absl::DataLossError(absl::StrCat("'", path, "' is not a valid bundle: ", why));
  };
  if (data.size() < kMagicLen + 32 || data.compare(0, kMagicLen, kMagic) != 0) return corrupt("bad magic");
  const std::string body = data.substr(0, data.size() - 32);
  if (Sha256Digest(body) != data.substr(data.size() - 32))
    return corrupt("checksum mismatch (truncated or corrupt)");
  size_t pos = kMagicLen;
  uint64_t n = 0;
  Bundle b;
  if (!GetUint(body, &pos, 4, &n) || body.size() < pos + n) return corrupt("bad kind");
  b.kind = body.substr(pos, n);
  pos += n;
  if (!GetUint(body, &pos, 8, &n) || body.size() < pos + n) return corrupt("bad metadata length");
  b.json = body.substr(pos, n);
  pos += n;
  uint64_t count = 0;
  if (!GetUint(body, &pos, 4, &count)) return corrupt("bad blob count");
  for (uint64_t i = 0; i < count; ++i) {
    if (!GetUint(body, &pos, 4, &n) || body.size() < pos + n) return corrupt("bad blob name");
    const std::string name = body.substr(pos, n);
    pos += n;
    if (!GetUint(body, &pos, 8, &n) || body.size() < pos + n) return corrupt("bad blob size");
    b.blobs[name] = body.substr(pos, n);
    pos += n;
  }
  if (pos != body.size()) return corrupt("trailing bytes");
  return b;
}

}  // namespace asr
