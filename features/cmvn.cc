#include "features/cmvn.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace asr {

void CmvnStats::Accumulate(const float* frame) {
  for (size_t i = 0; i < sum_.size(); ++i) {
    const double v = frame[i];
    sum_[i] += v;
    sum_sq_[i] += v * v;
  }
  ++frames_;
}

absl::Status CmvnStats::Accumulate(const Matrix& m) {
  if (m.cols != dim()) {
    return absl::InvalidArgumentError(absl::StrCat("cmvn: features have ", m.cols, " dims, stats ", dim()));
  }
  for (int64_t r = 0; r < m.rows; ++r) Accumulate(m.row(r));
  return absl::OkStatus();
}

absl::Status CmvnStats::Merge(const CmvnStats& other) {
  if (other.dim() != dim()) {
    return absl::InvalidArgumentError(absl::StrCat("cmvn: merging ", other.dim(), " dims into ", dim()));
  }
  for (size_t i = 0; i < sum_.size(); ++i) {
    sum_[i] += other.sum_[i];
    sum_sq_[i] += other.sum_sq_[i];
  }
  frames_ += other.frames_;
  return absl::OkStatus();
}

CmvnStats CmvnStats::FromSums(std::vector<double> sum, std::vector<double> sum_sq, int64_t frames) {
  CmvnStats s;
  s.sum_ = std::move(sum);
  s.sum_sq_ = std::move(sum_sq);
  s.frames_ = frames;
  return s;
}

absl::StatusOr<Cmvn> Cmvn::FromStats(const CmvnStats& stats, double var_floor) {
  if (stats.frames() <= 0) return absl::InvalidArgumentError("cmvn: statistics hold no frames");
  if (!(var_floor > 0)) return absl::InvalidArgumentError("cmvn: var_floor must be > 0");
  Cmvn c;
  c.stats_ = stats;
  c.var_floor_ = var_floor;
  const double n = static_cast<double>(stats.frames());
  for (int i = 0; i < stats.dim(); ++i) {
    const double mean = stats.sum()[static_cast<size_t>(i)] / n;
    const double var = stats.sum_sq()[static_cast<size_t>(i)] / n - mean * mean;
    if (!std::isfinite(mean) || !std::isfinite(var)) {
      return absl::InvalidArgumentError(absl::StrCat("cmvn: non-finite statistics in dimension ", i));
    }
    c.mean_.push_back(static_cast<float>(mean));
    c.inv_std_.push_back(static_cast<float>(1.0 / std::sqrt(std::max(var, var_floor))));
  }
  return c;
}

Cmvn Cmvn::Identity(int dim) {
  Cmvn c;
  c.stats_ = CmvnStats(dim);
  c.mean_.assign(static_cast<size_t>(dim), 0.f);
  c.inv_std_.assign(static_cast<size_t>(dim), 1.f);
  return c;
}

void Cmvn::Apply(float* frame) const {
  for (size_t i = 0; i < mean_.size(); ++i) frame[i] = (frame[i] - mean_[i]) * inv_std_[i];
}

absl::Status Cmvn::Apply(Matrix* m) const {
  if (m->cols != dim()) {
    return absl::InvalidArgumentError(absl::StrCat("cmvn: features have ", m->cols, " dims, cmvn ", dim()));
  }
  for (int64_t r = 0; r < m->rows; ++r) Apply(m->row(r));
  return absl::OkStatus();
}

std::string Cmvn::ToJson() const {
  nlohmann::json j;
  j["dim"] = dim();
  j["frames"] = stats_.frames();
  j["var_floor"] = var_floor_;
  j["sum"] = stats_.sum();
  j["sum_sq"] = stats_.sum_sq();
  return j.dump();
}

absl::StatusOr<Cmvn> Cmvn::FromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("cmvn: not a JSON object");
  try {
    const int dim = j.at("dim").get<int>();
    const int64_t frames = j.at("frames").get<int64_t>();
    auto sum = j.at("sum").get<std::vector<double>>();
    auto sum_sq = j.at("sum_sq").get<std::vector<double>>();
    if (static_cast<int>(sum.size()) != dim || static_cast<int>(sum_sq.size()) != dim) {
      return absl::InvalidArgumentError("cmvn: sum/sum_sq sizes do not match dim");
    }
    if (frames == 0) return Identity(dim);
    return FromStats(CmvnStats::FromSums(std::move(sum), std::move(sum_sq), frames),
                     j.value("var_floor", 1e-2));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cmvn: ", e.what()));
  }
}

absl::Status Cmvn::Save(const std::string& path) const {
  std::ofstream out(path);
  out << ToJson() << "\n";
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cmvn: cannot write '", path, "'"));
  return absl::OkStatus();
}

absl::StatusOr<Cmvn> Cmvn::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cmvn: cannot open '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = FromJson(ss.str());
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", c.status().message()));
  return c;
}

OnlineCmn::OnlineCmn(const Cmvn& global, const OnlineCmnOptions& opts)
    : opts_(opts),
      mean_(global.mean()),
      inv_std_(global.inv_std()),
      sum_(mean_.size(), 0.0),
      ring_(static_cast<size_t>(std::max(opts.window, 1)) * mean_.size(), 0.f) {}

void OnlineCmn::Apply(float* frame) {
  const size_t dim = mean_.size();
  const int64_t window = std::max(opts_.window, 1);
  float* slot = ring_.data() + static_cast<size_t>(frames_ % window) * dim;
  const bool full = frames_ >= window;  // slot holds frame t - W, leaving the window
  for (size_t i = 0; i < dim; ++i) {
    if (full) sum_[i] -= slot[i];
    sum_[i] += frame[i];
    slot[i] = frame[i];
  }
  ++frames_;
  const double n = static_cast<double>(std::min(frames_, window));
  const double prior = static_cast<double>(opts_.prior_frames);
  const double top_up = std::max(0.0, prior - n), denom = std::max(n, prior);
  for (size_t i = 0; i < dim; ++i) {
    const double m = (sum_[i] + top_up * mean_[i]) / denom;
    frame[i] = static_cast<float>((frame[i] - m) * inv_std_[i]);
  }
}

}  // namespace asr
