#include "model/training/training_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "model/base/fields_json.h"

namespace asr {

absl::Span<const fields::EnumName<Decay>> EnumNames(Decay) {
  static constexpr fields::EnumName<Decay> kNames[] = {
      {Decay::kCosine, "cosine"}, {Decay::kInverseSqrt, "inverse_sqrt"}, {Decay::kNone, "none"}};
  return kNames;
}

absl::Span<const fields::EnumName<Device>> EnumNames(Device) {
  static constexpr fields::EnumName<Device> kNames[] = {{Device::kCpu, "cpu"}, {Device::kCuda, "cuda"}};
  return kNames;
}

absl::Span<const fields::EnumName<Precision>> EnumNames(Precision) {
  static constexpr fields::EnumName<Precision> kNames[] = {{Precision::kFp32, "fp32"},
                                                           {Precision::kBf16, "bf16"}};
  return kNames;
}

absl::Span<const fields::EnumName<ExportModel>> EnumNames(ExportModel) {
  static constexpr fields::EnumName<ExportModel> kNames[] = {{ExportModel::kBestDev, "best_dev"},
                                                             {ExportModel::kLast, "last"}};
  return kNames;
}

absl::Status TrainingConfig::Validate() const {
  if (absl::Status st = model.Validate(); !st.ok()) return st;
  if (absl::Status st = data.Validate(); !st.ok()) return st;
  if (data.noise_augment.enabled()) {
    if (model.features.type != FeatureType::kFbank) {
      return absl::InvalidArgumentError(
          "data.noise_augment: works on mel filterbanks; model.features.type is not fbank");
    }
    if (absl::Status st = NoiseAugmenter::CheckFeatures(model.features.fbank); !st.ok()) return st;
  }
  if (data.vtlp_max_warp > 0 && model.features.type != FeatureType::kFbank) {
    return absl::InvalidArgumentError(
        "data.vtlp_max_warp: warps mel filterbanks; model.features.type is not fbank");
  }
  const OptimizerOptions& o = optimizer;
  if (!(o.lr > 0 && o.lr < 1))
    return absl::InvalidArgumentError(absl::StrCat("optimizer.lr: ", o.lr, " not in (0, 1)"));
  if (!(o.betas[0] >= 0 && o.betas[0] < 1))
    return absl::InvalidArgumentError("optimizer.betas: first not in [0, 1)");
  if (!(o.betas[1] >= 0 && o.betas[1] < 1))
    return absl::InvalidArgumentError("optimizer.betas: second not in [0, 1)");
  if (!(o.eps > 0)) return absl::InvalidArgumentError("optimizer.eps: must be > 0");
  if (!(o.weight_decay >= 0)) return absl::InvalidArgumentError("optimizer.weight_decay: must be >= 0");
  if (!(o.grad_clip >= 0)) return absl::InvalidArgumentError("optimizer.grad_clip: must be >= 0");
  if (schedule.warmup_steps < 0) return absl::InvalidArgumentError("schedule.warmup_steps: must be >= 0");
  if (!(schedule.min_lr_ratio >= 0 && schedule.min_lr_ratio <= 1)) {
    return absl::InvalidArgumentError("schedule.min_lr_ratio: not in [0, 1]");
  }
  const RunOptions& r = train;
  if (r.epochs < 1)
    return absl::InvalidArgumentError(absl::StrCat("train.epochs: ", r.epochs, " must be >= 1"));
  if (r.max_steps < 0) return absl::InvalidArgumentError("train.max_steps: must be >= 0");
  if (!(r.time_budget_minutes >= 0))
    return absl::InvalidArgumentError("train.time_budget_minutes: must be >= 0");
  if (r.threads < 0 || r.threads > 1024) return absl::InvalidArgumentError("train.threads: not in [0, 1024]");
  if (r.gradient_groups < 0 || r.gradient_groups > 4096)
    return absl::InvalidArgumentError("train.gradient_groups: not in [0, 4096]");
  if (r.checkpoint_every_steps < 0)
    return absl::InvalidArgumentError("train.checkpoint_every_steps: must be >= 0");
  if (r.keep_last_checkpoints < 1)
    return absl::InvalidArgumentError("train.keep_last_checkpoints: must be >= 1");
  if (r.early_stopping_patience < 0)
    return absl::InvalidArgumentError("train.early_stopping_patience: must be >= 0");
  if (r.max_consecutive_nonfinite < 1) {
    return absl::InvalidArgumentError("train.max_consecutive_nonfinite: must be >= 1");
  }
  if (r.eval_beam < 1 || r.eval_beam > 256)
    return absl::InvalidArgumentError("train.eval_beam: not in [1, 256]");
  if (r.cmvn_max_utterances < 1) return absl::InvalidArgumentError("train.cmvn_max_utterances: must be >= 1");
  if (r.log_every_steps < 1) return absl::InvalidArgumentError("train.log_every_steps: must be >= 1");
  if (!(r.ema_decay >= 0 && r.ema_decay < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("train.ema_decay: ", r.ema_decay, " not in [0, 1)"));
  }
  if (!(r.confidence_penalty >= 0 && r.confidence_penalty <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("train.confidence_penalty: ", r.confidence_penalty, " not in [0, 1]"));
  }
  if (!(r.intermediate_ctc_weight >= 0 && r.intermediate_ctc_weight < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("train.intermediate_ctc_weight: ", r.intermediate_ctc_weight, " not in [0, 1)"));
  }
  if (r.intermediate_ctc_layer < 0 || r.intermediate_ctc_layer >= model.num_layers ||
      (r.intermediate_ctc_weight > 0 && model.num_layers < 2)) {
    return absl::InvalidArgumentError(absl::StrCat("train.intermediate_ctc_layer: ", r.intermediate_ctc_layer,
                                                   " is not an inner layer of model.num_layers ",
                                                   model.num_layers,
                                                   " (1 .. num_layers - 1, or 0 for the middle one)"));
  }
  if (r.precision != Precision::kFp32 && r.device != Device::kCuda) {
    return absl::InvalidArgumentError(
        absl::StrCat("train.precision: ", fields::NameOf(r.precision),
                     " runs the fused CUDA kernels and needs train.device cuda"));
  }
  return absl::OkStatus();
}

nlohmann::json TrainingConfig::ToJson() const { return fields::ToJson(*this); }

absl::StatusOr<TrainingConfig> TrainingConfig::FromJson(const nlohmann::json& j,
                                                        const std::string& base_dir) {
  TrainingConfig c;
  if (absl::Status st = fields::FromJson(j, "", &c); !st.ok()) return st;
  if (!base_dir.empty()) {
    for (std::string* p : {&c.train_manifest, &c.dev_manifest}) {
      if (!p->empty() && std::filesystem::path(*p).is_relative()) {
        *p = (std::filesystem::path(base_dir) / *p).lexically_normal().string();
      }
    }
  }
  if (absl::Status st = c.Validate(); !st.ok()) return st;
  return c;
}

absl::StatusOr<TrainingConfig> TrainingConfig::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config '", path, "'"));
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not valid JSON"));
  auto c = FromJson(j, std::filesystem::path(path).parent_path().string());
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", c.status().message()));
  return c;
}

double LearningRate(const OptimizerOptions& opt, const ScheduleOptions& s, int64_t step, int64_t total_steps,
                    double time_fraction) {
  const double warm = static_cast<double>(s.warmup_steps);
  if (step < s.warmup_steps) return opt.lr * (static_cast<double>(step) + 1) / warm;
  if (s.decay == Decay::kNone) return opt.lr;
  if (s.decay == Decay::kInverseSqrt)
    return opt.lr * std::sqrt(std::max(1.0, warm) / (static_cast<double>(step) + 1));
  const double span = std::max<double>(1, static_cast<double>(total_steps - s.warmup_steps));
  const double progress =
      std::min(1.0, std::max(static_cast<double>(step - s.warmup_steps) / span, time_fraction));
  const double floor = s.min_lr_ratio * opt.lr;
  return floor + (opt.lr - floor) * 0.5 * (1 + std::cos(M_PI * progress));
}

}  // namespace asr
