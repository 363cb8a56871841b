#include "model/ln_lstm.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/init.h>

#include <algorithm>
#include <mutex>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "model/base/seed_mix.h"
#include "model/ln_lstm_cpu.h"
#ifdef ASR_CUDA_ADAPTER
#include "model/cuda/ln_lstm_cuda.h"
#endif

namespace asr {
namespace {

using torch::Tensor;

std::string Suffix(int64_t layer, int64_t direction) {
  return absl::StrCat("_l", layer, direction == 1 ? "_reverse" : "");
}

// idx[t, b] = lengths[b] - 1 - t for t < lengths[b], else t: reverses each
// sequence within its own length; padding stays in place.
Tensor ReverseIndex(int64_t steps, const std::vector<int64_t>& lengths) {
  const int64_t batch = static_cast<int64_t>(lengths.size());
  Tensor idx = torch::empty({steps, batch}, torch::kInt64);
  int64_t* p = idx.data_ptr<int64_t>();
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t len = lengths[static_cast<size_t>(b)];
      p[t * batch + b] = t < len ? len - 1 - t : t;
    }
  }
  return idx;
}

Tensor ReverseWithinLengths(const Tensor& x, const Tensor& idx) {
  return x.gather(0, idx.unsqueeze(-1).expand_as(x));
}

}  // namespace

absl::Status LayerNormLstmOptions::Validate() const {
  if (input_size_ <= 0)
    return absl::InvalidArgumentError(absl::StrCat("input_size: ", input_size_, " must be > 0"));
  if (hidden_size_ <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("hidden_size: ", hidden_size_, " must be > 0"));
  }
  if (num_layers_ <= 0)
    return absl::InvalidArgumentError(absl::StrCat("num_layers: ", num_layers_, " must be > 0"));
  if (!(dropout_ >= 0.0 && dropout_ < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("dropout: ", dropout_, " not in [0, 1)"));
  }
  if (proj_size_ < 0 || proj_size_ >= hidden_size_) {
    if (proj_size_ != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("proj_size: ", proj_size_, " must be 0 or in [1, hidden_size=", hidden_size_, ")"));
    }
  }
  if (!(eps_ > 0.0 && eps_ < 1.0))
    return absl::InvalidArgumentError(absl::StrCat("eps: ", eps_, " not in (0, 1)"));
  return absl::OkStatus();
}

std::string LayerNormLstmOptions::ToString() const {
  return absl::StrCat("input_size=", input_size_, " hidden_size=", hidden_size_, " num_layers=", num_layers_,
                      " bidirectional=", bidirectional_, " dropout=", dropout_, " proj_size=", proj_size_,
                      " eps=", eps_, " fused=", fused_);
}

LayerNormLstmImpl::LayerNormLstmImpl(const LayerNormLstmOptions& options) : options_(options) {
  const absl::Status st = options.Validate();
  TORCH_CHECK(st.ok(), "LayerNormLstm: ", std::string(st.message()));
  const int64_t h = options.hidden_size(), g = 4 * h, p = options.state_size();
  for (int64_t l = 0; l < options.num_layers(); ++l) {
    const int64_t in = l == 0 ? options.input_size() : options.output_size();
    for (int64_t d = 0; d < num_directions(); ++d) {
      const std::string s = Suffix(l, d);
      LstmCellWeights w;
      w.w_x = register_parameter("w_x" + s, torch::empty({g, in}));
      w.w_h = register_parameter("w_h" + s, torch::empty({g, p}));
      w.g_x = register_parameter("g_x" + s, torch::empty({g}));
      w.g_h = register_parameter("g_h" + s, torch::empty({g}));
      w.bias = register_parameter("bias" + s, torch::empty({g}));
      w.g_c = register_parameter("g_c" + s, torch::empty({h}));
      w.b_c = register_parameter("b_c" + s, torch::empty({h}));
      if (options.proj_size() > 0) w.w_r = register_parameter("w_r" + s, torch::empty({p, h}));
      cells_.push_back(w);
    }
  }
  reset_parameters();
}

void LayerNormLstmImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const int64_t h = options_.hidden_size();
  for (LstmCellWeights& w : cells_) {
    for (int64_t gate = 0; gate < 4; ++gate) {
      torch::nn::init::xavier_uniform_(w.w_x.narrow(0, gate * h, h));
      torch::nn::init::orthogonal_(w.w_h.narrow(0, gate * h, h));
    }
    w.g_x.fill_(1);
    w.g_h.fill_(1);
    w.g_c.fill_(1);
    w.b_c.zero_();
    w.bias.zero_();
    w.bias.narrow(0, h, h).fill_(1);  // forget gate
    if (w.w_r.defined()) torch::nn::init::xavier_uniform_(w.w_r);
  }
}

LstmState LayerNormLstmImpl::ZeroState(int64_t batch) const {
  const auto opts = cells_.front().w_x.options();
  const int64_t n = options_.num_layers() * num_directions();
  return {torch::zeros({n, batch, options_.state_size()}, opts),
          torch::zeros({n, batch, options_.hidden_size()}, opts)};
}

LstmOutput LayerNormLstmImpl::forward(const Tensor& input, const Tensor& lengths, const LstmState& initial,
                                      std::vector<Tensor>* layer_outputs) {
  TORCH_CHECK(input.dim() == 3 && input.size(2) == options_.input_size(),
              "LayerNormLstm: input must be [T, B, ", options_.input_size(), "], got ", input.sizes());
  const int64_t steps = input.size(0), batch = input.size(1);
  std::vector<int64_t> len(static_cast<size_t>(batch), steps);
  if (lengths.defined()) {
    const Tensor l = lengths.to(torch::kCPU, torch::kInt64).contiguous();
    TORCH_CHECK(l.numel() == batch, "LayerNormLstm: lengths has ", l.numel(), " entries for batch ", batch);
    std::copy(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + batch, len.begin());
    for (int64_t v : len)
      TORCH_CHECK(v >= 0 && v <= steps, "LayerNormLstm: length ", v, " not in [0, ", steps, "]");
  }
  // Sort by length, longest first: each step then works on a prefix of rows.
  std::vector<int64_t> order(static_cast<size_t>(batch));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len[a] > len[b]; });
  const bool sorted = std::is_sorted(order.begin(), order.end());
  std::vector<int64_t> sorted_len(static_cast<size_t>(batch));
  for (size_t i = 0; i < order.size(); ++i) sorted_len[i] = len[static_cast<size_t>(order[i])];
  const Tensor perm = torch::tensor(order, torch::kInt64).to(input.device());
  const Tensor inv_perm = torch::argsort(perm);
  auto permute = [&](const Tensor& t, int64_t dim) { return sorted ? t : t.index_select(dim, perm); };
  auto unpermute = [&](const Tensor& t, int64_t dim) { return sorted ? t : t.index_select(dim, inv_perm); };

  LstmState init = initial.h.defined() ? initial : ZeroState(batch);
  const Tensor h0 = permute(init.h, 1), c0 = permute(init.c, 1);
  Tensor rev_idx;
  if (options_.bidirectional()) rev_idx = ReverseIndex(steps, sorted_len).to(input.device());

  Tensor layer_input = permute(input, 1);
  std::vector<Tensor> hs, cs;
  for (int64_t l = 0; l < options_.num_layers(); ++l) {
    std::vector<Tensor> outs;
    for (int64_t d = 0; d < num_directions(); ++d) {
      const int64_t k = l * num_directions() + d;
      const Tensor x = d == 0 ? layer_input : ReverseWithinLengths(layer_input, rev_idx);
      std::vector<Tensor> r = LnLstmDirection(x, sorted_len, h0[k], c0[k], cells_[static_cast<size_t>(k)],
                                              options_.eps(), options_.fused());
      outs.push_back(d == 0 ? r[0] : ReverseWithinLengths(r[0], rev_idx));
      hs.push_back(r[1]);
      cs.push_back(r[2]);
    }
    layer_input = outs.size() == 1 ? outs[0] : torch::cat(outs, 2);
    if (layer_outputs) layer_outputs->push_back(unpermute(layer_input, 1));
    if (options_.dropout() > 0 && is_training() && l + 1 < options_.num_layers()) {
      layer_input = Dropout(layer_input, l, order);
    }
  }
  const Tensor output = layer_outputs ? layer_outputs->back() : unpermute(layer_input, 1);
  return {output, {unpermute(torch::stack(hs), 1), unpermute(torch::stack(cs), 1)}};
}

Tensor LayerNormLstmImpl::Dropout(const Tensor& x, int64_t layer, const std::vector<int64_t>& order) {
  const double p = options_.dropout();
  if (dropout_row_seeds_.empty() || !x.device().is_cpu()) return torch::dropout(x, p, true);
  TORCH_CHECK(dropout_row_seeds_.size() == order.size(), "LayerNormLstm: SeedDropout got ",
              dropout_row_seeds_.size(), " row seeds for a batch of ", order.size());
  const int64_t steps = x.size(0), width = x.size(2);
  std::vector<Tensor> rows;
  rows.reserve(order.size());
  for (int64_t row : order) {
    {
      std::lock_guard<std::mutex> lock(dropout_generator_.mutex());
      dropout_generator_.set_current_seed(
          SplitMix64Finalize(dropout_row_seeds_[static_cast<size_t>(row)] +
                             static_cast<uint64_t>(layer + 1) * 0x9e3779b97f4a7c15ULL));
    }
    // Contiguous [T, H], drawn in memory order: a longer padding only appends draws.
    rows.push_back(torch::empty({steps, width}, x.options()).bernoulli_(1.0 - p, dropout_generator_));
  }
  return x * torch::stack(rows, 1) * (1.0 / (1.0 - p));
}

void LayerNormLstmImpl::SeedDropout(std::vector<uint64_t> row_seeds) {
  if (!dropout_generator_.defined()) dropout_generator_ = at::make_generator<at::CPUGeneratorImpl>(0);
  dropout_row_seeds_ = std::move(row_seeds);
}

std::pair<Tensor, LstmState> LayerNormLstmImpl::Step(const Tensor& x, const LstmState& state) {
  TORCH_CHECK(!options_.bidirectional(), "LayerNormLstm::Step: a bidirectional LSTM cannot run step by step");
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.input_size(), "LayerNormLstm::Step: x must be [B, ",
              options_.input_size(), "], got ", x.sizes());
  torch::NoGradGuard no_grad;
  const int64_t batch = x.size(0);
  const LstmState s = state.h.defined() ? state : ZeroState(batch);
  const bool cpu_kernel = options_.fused() && x.device().is_cpu() &&
                          (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64);
  const std::vector<int64_t> ones(static_cast<size_t>(batch), 1);
  Tensor in = x;
  std::vector<Tensor> hs, cs;
  for (int64_t l = 0; l < options_.num_layers(); ++l) {
    const LstmCellWeights& w = cells_[static_cast<size_t>(l)];
    Tensor h, c;
    if (cpu_kernel) {
      LnLstmStepCpu(in, s.h[l], s.c[l], w, options_.eps(), &h, &c);
#ifdef ASR_CUDA_ADAPTER
    } else if (options_.fused() && LnLstmCudaSupports(in, w)) {
      LnLstmStepCuda(in, s.h[l], s.c[l], w, options_.eps(), &h, &c);
#endif
    } else {
      std::vector<Tensor> r =
          LnLstmDirectionReference(in.unsqueeze(0), ones, s.h[l], s.c[l], w, options_.eps());
      h = r[1];
      c = r[2];
    }
    in = h;
    hs.push_back(h);
    cs.push_back(c);
  }
  return {in, {torch::stack(hs), torch::stack(cs)}};
}

std::vector<Tensor> LnLstmDirection(const Tensor& x, const std::vector<int64_t>& lengths, const Tensor& h0,
                                    const Tensor& c0, const LstmCellWeights& w, double eps, bool fused) {
  const bool cpu_kernel = fused && x.device().is_cpu() &&
                          (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64);
  if (cpu_kernel) return LnLstmDirectionCpu(x, lengths, h0, c0, w, eps);
#ifdef ASR_CUDA_ADAPTER
  if (fused && LnLstmCudaSupports(x, w)) return LnLstmDirectionCuda(x, lengths, h0, c0, w, eps);
#endif
  return LnLstmDirectionReference(x, lengths, h0, c0, w, eps);
}

std::vector<Tensor> LnLstmDirectionReference(const Tensor& x, const std::vector<int64_t>& lengths,
                                             const Tensor& h0, const Tensor& c0, const LstmCellWeights& w,
                                             double eps) {
  const int64_t steps = x.size(0), g = w.w_x.size(0), h = g / 4;
  const Tensor xg = at::layer_norm(x.matmul(w.w_x.t()), {g}, {}, {}, eps) * w.g_x;
  Tensor mask = torch::empty({steps, static_cast<int64_t>(lengths.size()), 1}, torch::kBool);
  for (int64_t t = 0; t < steps; ++t) {
    for (size_t b = 0; b < lengths.size(); ++b) mask[t][static_cast<int64_t>(b)][0] = t < lengths[b];
  }
  mask = mask.to(x.device());
  Tensor hs = h0, cs = c0;
  std::vector<Tensor> ys;
  for (int64_t t = 0; t < steps; ++t) {
    const Tensor gates = xg[t] + at::layer_norm(hs.mm(w.w_h.t()), {g}, {}, {}, eps) * w.g_h + w.bias;
    const std::vector<Tensor> q = gates.chunk(4, 1);
    const Tensor c_new = torch::sigmoid(q[1]) * cs + torch::sigmoid(q[0]) * torch::tanh(q[2]);
    const Tensor m = torch::sigmoid(q[3]) * torch::tanh(at::layer_norm(c_new, {h}, w.g_c, w.b_c, eps));
    const Tensor h_new = w.w_r.defined() ? m.mm(w.w_r.t()) : m;
    hs = torch::where(mask[t], h_new, hs);
    cs = torch::where(mask[t], c_new, cs);
    ys.push_back(torch::where(mask[t], h_new, torch::zeros_like(h_new)));
  }
  return {torch::stack(ys), hs, cs};
}

}  // namespace asr
