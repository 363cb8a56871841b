#include "model/training/training_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// Applies the fields of object `j` through setters keyed by field name;
// errors name "section.field".
using Setter = std::function<void(const nlohmann::json&)>;

absl::Status ApplyFields(const std::string& section, const nlohmann::json& j,
                         const std::map<std::string, Setter>& setters) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(section, ": must be a JSON object"));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto s = setters.find(it.key());
    if (s == setters.end())
      return absl::InvalidArgumentError(absl::StrCat(section, ".", it.key(), ": unknown field"));
    try {
      s->second(it.value());
    } catch (const nlohmann::json::exception&) {
      return absl::InvalidArgumentError(
          absl::StrCat(section, ".", it.key(), ": wrong type (", it->dump(), ")"));
    }
  }
  return absl::OkStatus();
}

template <class T>
Setter Set(T* field) {
  return [field](const nlohmann::json& v) { *field = v.get<T>(); };
}

}  // namespace

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
  if (!(o.beta1 >= 0 && o.beta1 < 1))
    return absl::InvalidArgumentError("optimizer.betas: first not in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1))
    return absl::InvalidArgumentError("optimizer.betas: second not in [0, 1)");
  if (!(o.eps > 0)) return absl::InvalidArgumentError("optimizer.eps: must be > 0");
  if (!(o.weight_decay >= 0)) return absl::InvalidArgumentError("optimizer.weight_decay: must be >= 0");
  if (!(o.grad_clip >= 0)) return absl::InvalidArgumentError("optimizer.grad_clip: must be >= 0");
  if (schedule.warmup_steps < 0) return absl::InvalidArgumentError("schedule.warmup_steps: must be >= 0");
  if (schedule.decay != "cosine" && schedule.decay != "inverse_sqrt" && schedule.decay != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule.decay: '", schedule.decay, "' is not cosine|inverse_sqrt|none"));
  }
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
  if (r.device != "cpu" && r.device != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat("train.device: '", r.device, "' is not cpu or cuda"));
  }
  if (r.precision != "fp32" && r.precision != "bf16") {
    // fp16 would need loss scaling; bf16 has fp32's range and does not.
    return absl::InvalidArgumentError(
        absl::StrCat("train.precision: '", r.precision, "' is not fp32 or bf16"));
  }
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
  if (r.export_model != "best_dev" && r.export_model != "last") {
    return absl::InvalidArgumentError(
        absl::StrCat("train.export_model: '", r.export_model, "' is not best_dev or last"));
  }
  if (r.precision != "fp32" && r.device != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat(
        "train.precision: ", r.precision, " runs the fused CUDA kernels and needs train.device cuda"));
  }
  return absl::OkStatus();
}

nlohmann::json TrainingConfig::ToJson() const {
  return {{"train_manifest", train_manifest},
          {"dev_manifest", dev_manifest},
          {"model", model.ToJson()},
          {"data", data.ToJson()},
          {"optimizer",
           {{"lr", optimizer.lr},
            {"betas", {optimizer.beta1, optimizer.beta2}},
            {"eps", optimizer.eps},
            {"weight_decay", optimizer.weight_decay},
            {"grad_clip", optimizer.grad_clip}}},
          {"schedule",
           {{"warmup_steps", schedule.warmup_steps},
            {"decay", schedule.decay},
            {"min_lr_ratio", schedule.min_lr_ratio}}},
          {"train",
           {{"epochs", train.epochs},
            {"max_steps", train.max_steps},
            {"time_budget_minutes", train.time_budget_minutes},
            {"seed", train.seed},
            {"threads", train.threads},
            {"data_parallel", train.data_parallel},
            {"checkpoint_every_steps", train.checkpoint_every_steps},
            {"keep_last_checkpoints", train.keep_last_checkpoints},
            {"early_stopping_patience", train.early_stopping_patience},
            {"max_consecutive_nonfinite", train.max_consecutive_nonfinite},
            {"eval_beam", train.eval_beam},
            {"cmvn_max_utterances", train.cmvn_max_utterances},
            {"log_every_steps", train.log_every_steps},
            {"device", train.device},
            {"precision", train.precision},
            {"ema_decay", train.ema_decay},
            {"confidence_penalty", train.confidence_penalty},
            {"intermediate_ctc_weight", train.intermediate_ctc_weight},
            {"intermediate_ctc_layer", train.intermediate_ctc_layer},
            {"export_model", train.export_model}}}};
}

absl::StatusOr<TrainingConfig> TrainingConfig::FromJson(const nlohmann::json& j,
                                                        const std::string& base_dir) {
  TrainingConfig c;
  nlohmann::json model_json, data_json, optimizer_json, schedule_json, train_json;
  const std::map<std::string, Setter> top = {{"train_manifest", Set(&c.train_manifest)},
                                             {"dev_manifest", Set(&c.dev_manifest)},
                                             {"model", Set(&model_json)},
                                             {"data", Set(&data_json)},
                                             {"optimizer", Set(&optimizer_json)},
                                             {"schedule", Set(&schedule_json)},
                                             {"train", Set(&train_json)}};
  if (absl::Status st = ApplyFields("config", j, top); !st.ok()) return st;
  if (!model_json.is_null()) {
    auto m = AcousticModelConfig::FromJson(model_json);
    if (!m.ok()) return m.status();
    c.model = *m;
  }
  if (!data_json.is_null()) {
    auto d = DataOptions::FromJson(data_json);
    if (!d.ok()) return d.status();
    c.data = *d;
  }
  if (!optimizer_json.is_null()) {
    OptimizerOptions& o = c.optimizer;
    const std::map<std::string, Setter> f = {{"lr", Set(&o.lr)},
                                             {"eps", Set(&o.eps)},
                                             {"weight_decay", Set(&o.weight_decay)},
                                             {"grad_clip", Set(&o.grad_clip)},
                                             {"betas", [&o](const nlohmann::json& v) {
                                                const auto b = v.get<std::vector<double>>();
                                                if (b.size() != 2)
                                                  throw nlohmann::json::type_error::create(302, "two betas",
                                                                                           nullptr);
                                                o.beta1 = b[0];
                                                o.beta2 = b[1];
                                              }}};
    if (absl::Status st = ApplyFields("optimizer", optimizer_json, f); !st.ok()) return st;
  }
  if (!schedule_json.is_null()) {
    ScheduleOptions& s = c.schedule;
    const std::map<std::string, Setter> f = {{"warmup_steps", Set(&s.warmup_steps)},
                                             {"decay", Set(&s.decay)},
                                             {"min_lr_ratio", Set(&s.min_lr_ratio)}};
    if (absl::Status st = ApplyFields("schedule", schedule_json, f); !st.ok()) return st;
  }
  if (!train_json.is_null()) {
    RunOptions& r = c.train;
    const std::map<std::string, Setter> f = {{"epochs", Set(&r.epochs)},
                                             {"max_steps", Set(&r.max_steps)},
                                             {"time_budget_minutes", Set(&r.time_budget_minutes)},
                                             {"seed", Set(&r.seed)},
                                             {"threads", Set(&r.threads)},
                                             {"data_parallel", Set(&r.data_parallel)},
                                             {"checkpoint_every_steps", Set(&r.checkpoint_every_steps)},
                                             {"keep_last_checkpoints", Set(&r.keep_last_checkpoints)},
                                             {"early_stopping_patience", Set(&r.early_stopping_patience)},
                                             {"max_consecutive_nonfinite", Set(&r.max_consecutive_nonfinite)},
                                             {"eval_beam", Set(&r.eval_beam)},
                                             {"cmvn_max_utterances", Set(&r.cmvn_max_utterances)},
                                             {"log_every_steps", Set(&r.log_every_steps)},
                                             {"device", Set(&r.device)},
                                             {"precision", Set(&r.precision)},
                                             {"ema_decay", Set(&r.ema_decay)},
                                             {"confidence_penalty", Set(&r.confidence_penalty)},
                                             {"intermediate_ctc_weight", Set(&r.intermediate_ctc_weight)},
                                             {"intermediate_ctc_layer", Set(&r.intermediate_ctc_layer)},
                                             {"export_model", Set(&r.export_model)}};
    if (absl::Status st = ApplyFields("train", train_json, f); !st.ok()) return st;
  }
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
  if (s.decay == "none") return opt.lr;
  if (s.decay == "inverse_sqrt")
    return opt.lr * std::sqrt(std::max(1.0, warm) / (static_cast<double>(step) + 1));
  const double span = std::max<double>(1, static_cast<double>(total_steps - s.warmup_steps));
  const double progress =
      std::min(1.0, std::max(static_cast<double>(step - s.warmup_steps) / span, time_fraction));
  const double floor = s.min_lr_ratio * opt.lr;
  return floor + (opt.lr - floor) * 0.5 * (1 + std::cos(M_PI * progress));
}

}  // namespace asr
