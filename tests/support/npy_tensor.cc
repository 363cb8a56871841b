#include "tests/support/npy_tensor.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace asr::testing {

torch::Tensor LoadNpyTensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  char pre[10];
  in.read(pre, 10);
  if (!in || std::memcmp(pre, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
  const size_t len = static_cast<uint8_t>(pre[8]) | (static_cast<uint8_t>(pre[9]) << 8);
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  torch::ScalarType dtype;
  size_t item = 0;
  if (header.find("'<f8'") != std::string::npos) {
    dtype = torch::kFloat64;
    item = 8;
  } else if (header.find("'<f4'") != std::string::npos) {
    dtype = torch::kFloat32;
    item = 4;
  } else if (header.find("'<i8'") != std::string::npos) {
    dtype = torch::kInt64;
    item = 8;
  } else {
    throw std::runtime_error(path + ": unsupported dtype in " + header);
  }
  if (header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": Fortran order");
  const size_t open = header.find("'shape': (") + 10, close = header.find(')', open);
  std::vector<int64_t> shape;
  std::stringstream ss(header.substr(open, close - open));
  for (std::string tok; std::getline(ss, tok, ',');) {
    if (tok.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(tok));
  }
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * item));
  if (!in) throw std::runtime_error(path + ": truncated data");
  return t;
}

bool AllCloseRelative(const torch::Tensor& a, const torch::Tensor& b, double rtol, std::string* why) {
  if (a.sizes() != b.sizes()) {
    std::ostringstream os;
    os << "shape " << a.sizes() << " vs " << b.sizes();
    *why = os.str();
    return false;
  }
  const torch::Tensor ad = a.to(torch::kFloat64).cpu(), bd = b.to(torch::kFloat64).cpu();
  // Non-finite values fail outright (as tests/support/tolerance.h's checks do).
  for (const auto& [t, which] : {std::pair{ad, "value"}, std::pair{bd, "reference value"}}) {
    const torch::Tensor bad = torch::logical_not(torch::isfinite(t)).flatten().nonzero();
    if (bad.numel() > 0) {
      const int64_t i = bad[0].item<int64_t>();
      std::ostringstream os;
      os << bad.numel() << " non-finite; element " << i << ": " << which << " "
         << t.flatten()[i].item<double>();
      *why = os.str();
      return false;
    }
  }
  const double scale = bd.numel() ? bd.abs().max().item<double>() : 0.0;
  const torch::Tensor excess = (ad - bd).abs() - rtol * (bd.abs() + scale);
  if (excess.numel() == 0 || excess.max().item<double>() <= 0) return true;
  const int64_t worst = excess.argmax().item<int64_t>();
  std::ostringstream os;
  os << "element " << worst << ": " << ad.flatten()[worst].item<double>() << " vs "
     << bd.flatten()[worst].item<double>() << " (max |ref| " << scale << ", rtol " << rtol << ")";
  *why = os.str();
  return false;
}

}  // namespace asr::testing
