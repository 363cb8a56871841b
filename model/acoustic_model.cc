#include "model/acoustic_model.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/activation.h>

#include "absl/strings/str_cat.h"
#include "model/base/fields_json.h"

namespace asr {

absl::Status AcousticModelConfig::Validate() const {
  if (absl::Status st = features.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model.features.", st.message()));
  }
  if (frame_stacking < 1 || frame_stacking > 8) {
    return absl::InvalidArgumentError(absl::StrCat("model.frame_stacking: ", frame_stacking, " not in 1..8"));
  }
  if (hidden_size < 1 || hidden_size > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("model.hidden_size: ", hidden_size, " not in [1, 8192]"));
  }
  if (num_layers < 1 || num_layers > 16) {
    return absl::InvalidArgumentError(absl::StrCat("model.num_layers: ", num_layers, " not in [1, 16]"));
  }
  if (!(dropout >= 0 && dropout < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("model.dropout: ", dropout, " not in [0, 1)"));
  }
  if (proj_size < 0 || (proj_size > 0 && proj_size >= hidden_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.proj_size: ", proj_size, " must be 0 or < hidden_size"));
  }
  if (!(ln_eps > 0 && ln_eps < 1)) return absl::InvalidArgumentError("model.ln_eps: not in (0, 1)");
  if (burn_in_frames < 0 || burn_in_frames > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.burn_in_frames: ", burn_in_frames, " not in [0, 100]"));
  }
  if (online_cmn.window < 0 || online_cmn.window > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.online_cmn.window: ", online_cmn.window, " not in [0, 100000] frames"));
  }
  if (online_cmn.prior_frames < 0 || online_cmn.prior_frames > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("model.online_cmn.prior_frames: ", online_cmn.prior_frames,
                                                   " not in [0, 100000] frames"));
  }
  if (!(blank_bias_init >= -20 && blank_bias_init <= 20)) {
    return absl::InvalidArgumentError("model.blank_bias_init: not in [-20, 20]");
  }
  if (!word_units.empty() && vocabulary != Vocabulary::kDefaultSymbols) {
    return absl::InvalidArgumentError("model.word_units: set either word_units or vocabulary, not both");
  }
  if (auto v = MakeVocabulary(); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model.", v.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Vocabulary> AcousticModelConfig::MakeVocabulary() const {
  return word_units.empty() ? Vocabulary::Create(vocabulary) : Vocabulary::CreateWords(word_units);
}

nlohmann::json AcousticModelConfig::ToJson() const { return fields::ToJson(*this); }

absl::StatusOr<AcousticModelConfig> AcousticModelConfig::FromJson(const nlohmann::json& j) {
  AcousticModelConfig c;
  if (absl::Status st = fields::FromJson(j, "model", &c); !st.ok()) return st;
  if (absl::Status st = c.Validate(); !st.ok()) return st;
  return c;
}

namespace {

Vocabulary ValidVocabulary(const AcousticModelConfig& config) {
  const absl::Status st = config.Validate();
  TORCH_CHECK(st.ok(), "AcousticModel: ", std::string(st.message()));
  return *config.MakeVocabulary();
}

}  // namespace

AcousticModelImpl::AcousticModelImpl(const AcousticModelConfig& config, const Cmvn& cmvn)
    : config_(config), vocab_(ValidVocabulary(config)), cmvn_(cmvn) {
  TORCH_CHECK(cmvn.dim() == config.features.Dim(), "AcousticModel: CMVN has ", cmvn.dim(), " dims, features ",
              config.features.Dim());
  cmvn_mean_ = register_buffer("cmvn_mean", torch::tensor(cmvn.mean()));
  cmvn_inv_std_ = register_buffer("cmvn_inv_std", torch::tensor(cmvn.inv_std()));
  lstm_ = register_module("lstm", LayerNormLstm(LayerNormLstmOptions(config.input_dim(), config.hidden_size)
                                                    .num_layers(config.num_layers)
                                                    .bidirectional(config.bidirectional)
                                                    .dropout(config.dropout)
                                                    .proj_size(config.proj_size)
                                                    .eps(config.ln_eps)));
  output_ = register_module("output", torch::nn::Linear(lstm_->options().output_size(), vocab_.size()));
  // A blank-leaning start: with uniform outputs CTC's boundary condition
  // pulls half the probability of frame 0 onto the first character, the
  // LSTM's zero initial state makes frame 0 recognizable, and the model
  // learns to emit a guessed first word before any speech.
  torch::NoGradGuard no_grad;
  output_->bias[Vocabulary::kBlank].fill_(config.blank_bias_init);
}

torch::Tensor AcousticModelImpl::Normalize(const torch::Tensor& feats) const {
  const OnlineCmnOptions& cmn = config_.online_cmn;
  if (!cmn.enabled()) return (feats - cmvn_mean_) * cmvn_inv_std_;
  // m_t = (S_t + max(0, P - n_t) mean) / max(n_t, P) over the window ending
  // at t, from prefix sums in double (OnlineCmn's definition, batched).
  const int64_t steps = feats.size(1), window = cmn.window;
  const torch::Tensor prefix = feats.to(torch::kDouble).cumsum(1);
  torch::Tensor sums = prefix.clone();
  if (steps > window) sums.narrow(1, window, steps - window).sub_(prefix.narrow(1, 0, steps - window));
  const auto dopts = torch::TensorOptions().dtype(torch::kDouble).device(feats.device());
  const torch::Tensor n = torch::arange(1, steps + 1, dopts).clamp_max(window).view({1, steps, 1});
  const double prior = cmn.prior_frames;
  const torch::Tensor mean =
      (sums + (prior - n).clamp_min(0) * cmvn_mean_.to(torch::kDouble).view({1, 1, -1})) / n.clamp_min(prior);
  return (feats - mean.to(feats.scalar_type())) * cmvn_inv_std_;
}

std::pair<torch::Tensor, torch::Tensor> AcousticModelImpl::PrepareInput(const torch::Tensor& feats,
                                                                        const torch::Tensor& lengths,
                                                                        int64_t burn_in) const {
  TORCH_CHECK(feats.dim() == 3 && feats.size(2) == config_.features.Dim(),
              "AcousticModel: features must be [B, T, ", config_.features.Dim(), "], got ", feats.sizes());
  const int64_t k = config_.frame_stacking, batch = feats.size(0), steps = feats.size(1);
  torch::Tensor x = Normalize(feats);
  // Zero frames past each length so padding never leaks into a stacked group.
  const torch::Tensor len_cpu = lengths.to(torch::kCPU, torch::kInt64);
  const torch::Tensor mask = torch::arange(steps).unsqueeze(0).lt(len_cpu.unsqueeze(1)).to(x.device());
  x = x * mask.unsqueeze(2).to(x.scalar_type());
  const int64_t out_steps = (steps + k - 1) / k;
  if (out_steps * k != steps) x = at::constant_pad_nd(x, {0, 0, 0, out_steps * k - steps});
  x = x.reshape({batch, out_steps, k * config_.features.Dim()}).transpose(0, 1);
  if (burn_in > 0 && out_steps > 0)
    x = torch::cat({x.narrow(0, 0, 1).expand({burn_in, batch, x.size(2)}), x});
  return {x, (len_cpu + (k - 1)).div(k, "floor")};
}

AcousticOutput AcousticModelImpl::forward(const torch::Tensor& feats, const torch::Tensor& lengths,
                                          int64_t burn_in, int64_t intermediate_layer) {
  TORCH_CHECK(intermediate_layer >= 0 && intermediate_layer < config_.num_layers,
              "AcousticModel: intermediate layer ", intermediate_layer, " not in [0, ", config_.num_layers,
              ")");
  if (burn_in < 0) burn_in = config_.burn_in_frames;
  auto [x, out_lengths] = PrepareInput(feats, lengths, burn_in);
  const int64_t used = x.size(0) > burn_in ? burn_in : 0;
  const bool mixed = lstm_dtype_ != torch::kFloat32 && x.scalar_type() == torch::kFloat32;
  std::vector<torch::Tensor> layers;
  const LstmOutput h = lstm_->forward(mixed ? x.to(lstm_dtype_) : x, out_lengths + used, {},
                                      intermediate_layer > 0 ? &layers : nullptr);
  // LSTM output [burn-in + T', B, D * P] -> log-probs [T', B, V].
  auto log_probs = [&](const torch::Tensor& lstm_out) {
    torch::Tensor y = lstm_out.narrow(0, used, lstm_out.size(0) - used);
    if (mixed) y = y.to(torch::kFloat32);
    return torch::log_softmax(output_->forward(y), -1);
  };
  AcousticOutput out{log_probs(h.output), out_lengths, {}};
  if (intermediate_layer > 0)
    out.intermediate_log_probs = log_probs(layers[static_cast<size_t>(intermediate_layer - 1)]);
  return out;
}

torch::Tensor AcousticModelImpl::StepLogProbs(const torch::Tensor& x, LstmState* state) {
  torch::NoGradGuard no_grad;
  auto [y, next] = lstm_->Step(x, *state);
  *state = next;
  return torch::log_softmax(output_->forward(y), -1);
}

void AcousticModelImpl::BurnIn(const torch::Tensor& x, LstmState* state) {
  torch::NoGradGuard no_grad;
  for (int i = 0; i < config_.burn_in_frames; ++i) *state = lstm_->Step(x, *state).second;
}

bool FrameStacker::Push(const float* frame, std::vector<float>* out) {
  pending_.insert(pending_.end(), frame, frame + dim_);
  if (static_cast<int>(pending_.size()) < dim_ * k_) return false;
  out->swap(pending_);
  pending_.clear();
  return true;
}

bool FrameStacker::Flush(std::vector<float>* out) {
  if (pending_.empty()) return false;
  pending_.resize(static_cast<size_t>(dim_ * k_), 0.f);
  out->swap(pending_);
  pending_.clear();
  return true;
}

}  // namespace asr
