#include "model/training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "model/model_io.h"

namespace asr {
namespace {

constexpr int kFormatVersion = 1;

std::string OptimizerBytes(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

std::string RngBytes() {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

int64_t StepOf(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  long long step = -1;
  if (std::sscanf(name.c_str(), "ckpt-%lld.asrckpt", &step) != 1) return -1;
  return step;
}

}  // namespace

nlohmann::json TrainingState::ToJson() const {
  return {{"step", step},
          {"epoch", epoch},
          {"batch_in_epoch", batch_in_epoch},
          {"best_dev_cer", best_dev_cer},
          {"best_dev_wer", best_dev_wer},
          {"best_step", best_step},
          {"epochs_without_improvement", epochs_without_improvement},
          {"skipped_steps", skipped_steps},
          {"nonfinite_streak", nonfinite_streak},
          {"elapsed_seconds", elapsed_seconds},
          {"history", history}};
}

TrainingState TrainingState::FromJson(const nlohmann::json& j) {
  TrainingState s;
  s.step = j.value("step", int64_t{0});
  s.epoch = j.value("epoch", int64_t{0});
  s.batch_in_epoch = j.value("batch_in_epoch", int64_t{0});
  s.best_dev_cer = j.value("best_dev_cer", 2.0);
  s.best_dev_wer = j.value("best_dev_wer", 2.0);
  s.best_step = j.value("best_step", int64_t{-1});
  s.epochs_without_improvement = j.value("epochs_without_improvement", int64_t{0});
  s.skipped_steps = j.value("skipped_steps", int64_t{0});
  s.nonfinite_streak = j.value("nonfinite_streak", int64_t{0});
  s.elapsed_seconds = j.value("elapsed_seconds", 0.0);
  s.history = j.value("history", nlohmann::json::array());
  return s;
}

absl::Status SaveCheckpoint(const std::string& path, const TrainingConfig& config, AcousticModel& model,
                            torch::optim::Optimizer& optimizer, const TrainingState& state,
                            AcousticModel* averaged) {
  const nlohmann::json meta = {{"format_version", kFormatVersion},
                               {"config", model->config().ToJson()},
                               {"training_config", config.ToJson()},
                               {"cmvn", nlohmann::json::parse(model->cmvn().ToJson())},
                               {"state", state.ToJson()}};
  Bundle b{"checkpoint",
           meta.dump(),
           {{"model", SerializeModule(*model)},
            {"optimizer", OptimizerBytes(optimizer)},
            {"torch_rng", RngBytes()}}};
  if (averaged != nullptr) b.blobs["averaged"] = SerializeModule(**averaged);
  return WriteBundleAtomically(path, b);
}

absl::StatusOr<CheckpointData> ReadCheckpoint(const std::string& path) {
  auto bundle = ReadBundle(path);
  if (!bundle.ok()) return bundle.status();
  if (bundle->kind != "checkpoint") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' holds a '", bundle->kind, "', not a checkpoint"));
  }
  const nlohmann::json meta = nlohmann::json::parse(bundle->json, nullptr, false);
  if (meta.is_discarded() || meta.value("format_version", 0) != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("'", path, "': unsupported checkpoint format"));
  }
  for (const char* blob : {"model", "optimizer", "torch_rng"}) {
    if (!bundle->blobs.count(blob)) return absl::DataLossError(absl::StrCat("'", path, "': missing ", blob));
  }
  auto config = TrainingConfig::FromJson(meta["training_config"]);
  if (!config.ok()) return absl::DataLossError(absl::StrCat("'", path, "': ", config.status().message()));
  auto cmvn = Cmvn::FromJson(meta["cmvn"].dump());
  if (!cmvn.ok()) return absl::DataLossError(absl::StrCat("'", path, "': ", cmvn.status().message()));
  CheckpointData c;
  c.path = path;
  c.config = *config;
  c.state = TrainingState::FromJson(meta["state"]);
  c.cmvn = *cmvn;
  c.bundle = std::move(*bundle);
  return c;
}

absl::Status RestoreCheckpoint(const CheckpointData& ckpt, AcousticModel& model,
                               torch::optim::Optimizer& optimizer, AcousticModel* averaged) {
  if (absl::Status st = DeserializeModule(ckpt.bundle.blobs.at("model"), *model, ckpt.path); !st.ok())
    return st;
  if (const auto it = ckpt.bundle.blobs.find("averaged");
      averaged != nullptr && it != ckpt.bundle.blobs.end()) {
    if (absl::Status st = DeserializeModule(it->second, **averaged, ckpt.path); !st.ok()) return st;
  }
  try {
    torch::serialize::InputArchive opt_archive;
    std::istringstream opt_in(ckpt.bundle.blobs.at("optimizer"));
    opt_archive.load_from(opt_in, model->device());
    optimizer.load(opt_archive);
    torch::serialize::InputArchive rng_archive;
    std::istringstream rng_in(ckpt.bundle.blobs.at("torch_rng"));
    rng_archive.load_from(rng_in);
    torch::Tensor state;
    rng_archive.read("cpu", state);
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(state);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("'", ckpt.path, "': ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

std::string CheckpointPath(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt-%010lld.asrckpt", static_cast<long long>(step));
  return (std::filesystem::path(dir) / name).string();
}

std::vector<std::string> ListCheckpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const int64_t step = StepOf(e.path().string());
    if (step >= 0 && e.path().extension() == ".asrckpt") found.emplace_back(step, e.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

absl::StatusOr<CheckpointData> ReadNewestValidCheckpoint(const std::string& dir,
                                                         std::vector<std::string>* rejected) {
  for (const std::string& path : ListCheckpoints(dir)) {
    auto c = ReadCheckpoint(path);
    if (c.ok()) return c;
    rejected->push_back(std::string(c.status().message()));
  }
  return absl::NotFoundError(absl::StrCat("no valid checkpoint in '", dir, "'"));
}

void ApplyRetention(const std::string& dir, int64_t keep_last, int64_t best_step) {
  const std::vector<std::string> all = ListCheckpoints(dir);
  for (size_t i = static_cast<size_t>(keep_last); i < all.size(); ++i) {
    if (StepOf(all[i]) == best_step) continue;
    std::error_code ec;
    std::filesystem::remove(all[i], ec);
  }
}

}  // namespace asr
