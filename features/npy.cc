#include "features/npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asr {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

}  // namespace

absl::Status WriteNpy(const std::string& path, const Matrix& m) {
  if (static_cast<int64_t>(m.data.size()) != m.rows * m.cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("matrix data size ", m.data.size(), " != rows*cols for '", path, "'"));
  }
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", m.rows, ", ", m.cols, "), }");
  // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out) return absl::NotFoundError(absl::StrCat("cannot open '", path, "' for writing"));
  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(m.data.data()),
            static_cast<std::streamsize>(m.data.size() * sizeof(float)));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("write to '", path, "' failed"));
  return absl::OkStatus();
}

absl::StatusOr<Matrix> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  char preamble[10];
  if (!in.read(preamble, 10) || std::memcmp(preamble, kMagic, 6) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a .npy file"));
  }
  size_t header_len = 0;
  if (preamble[6] == 1) {
    header_len = static_cast<uint8_t>(preamble[8]) | (static_cast<uint8_t>(preamble[9]) << 8);
  } else {
    char more[2];
    if (!in.read(more, 2)) return absl::InvalidArgumentError(absl::StrCat("'", path, "' truncated"));
    header_len = static_cast<uint8_t>(preamble[8]) | (static_cast<uint8_t>(preamble[9]) << 8) |
                 (static_cast<uint8_t>(more[0]) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(more[1])) << 24);
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' has a truncated header"));
  }
  const bool f4 = header.find("'descr': '<f4'") != std::string::npos;
  const bool f8 = header.find("'descr': '<f8'") != std::string::npos;
  const size_t shape_open = header.find("'shape': (");
  const size_t shape_close = header.find(')', shape_open);
  if (!(f4 || f8) || header.find("'fortran_order': False") == std::string::npos ||
      shape_open == std::string::npos || shape_close == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': only little-endian C-order f4/f8 arrays are supported"));
  }
  std::vector<int64_t> dims;
  const size_t dims_begin = shape_open + 10;
  std::stringstream ss(header.substr(dims_begin, shape_close - dims_begin));
  for (std::string tok; std::getline(ss, tok, ',');) {
    if (tok.find_first_not_of(' ') == std::string::npos) continue;
    int64_t d = 0;
    if (!absl::SimpleAtoi(tok, &d) || d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': bad shape entry '", tok, "'"));
    }
    dims.push_back(d);
  }
  Matrix m;
  if (dims.size() == 1) {
    m.rows = dims[0];
    m.cols = 1;
  } else if (dims.size() == 2) {
    m.rows = dims[0];
    m.cols = dims[1];
  } else if (dims.empty()) {
    m.rows = m.cols = 1;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': ", dims.size(), "-D array, want 1-D or 2-D"));
  }
  const size_t n = static_cast<size_t>(m.rows * m.cols);
  m.data.resize(n);
  if (f4) {
    in.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(n * 4));
  } else {
    std::vector<double> d(n);
    in.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(n * 8));
    for (size_t i = 0; i < n; ++i) m.data[i] = static_cast<float>(d[i]);
  }
  if (!in) return absl::InvalidArgumentError(absl::StrCat("'", path, "' has truncated data"));
  return m;
}

}  // namespace asr
