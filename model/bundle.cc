#include "model/bundle.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

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

std::string RawSha256(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), SHA256_DIGEST_LENGTH);
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : RawSha256(data)) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::filesystem::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  std::string tmp =
      (std::filesystem::path(dir) / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return Errno("cannot create a temporary file for", path);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const absl::Status st = Errno("write failed for", path);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const absl::Status st = Errno("fsync failed for", path);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const absl::Status st = Errno("rename failed for", path);
    ::unlink(tmp.c_str());
    return st;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

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
  out += RawSha256(out);
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
  if (RawSha256(body) != data.substr(data.size() - 32))
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
