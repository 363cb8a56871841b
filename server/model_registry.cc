#include "server/model_registry.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "model/model_io.h"

namespace asr::server {

absl::Status ModelRegistry::ValidateName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxModelNameBytes &&
            (std::islower(static_cast<unsigned char>(name[0])) ||
             std::isdigit(static_cast<unsigned char>(name[0])));
  for (char c : name) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok)
    return absl::InvalidArgumentError(
        absl::StrCat("name: '", name, "' must match [a-z0-9][a-z0-9._-]{0,63}"));
  return absl::OkStatus();
}

std::string ModelRegistry::PathOf(const std::string& name, int version) const {
  return (std::filesystem::path(dir_) / name / absl::StrCat(version, ".asrmodel")).string();
}

absl::StatusOr<asr::v1::ModelVersion> ModelRegistry::Publish(const std::string& name,
                                                             const std::string& source,
                                                             asr::v1::ModelVersion info) {
  if (absl::Status st = ValidateName(name); !st.ok()) return st;
  auto loaded = LoadModel(source);
  if (!loaded.ok()) return loaded.status();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir_) / name, ec);
  const std::string staging = (std::filesystem::path(dir_) / name / ".publishing.asrmodel").string();
  if (info.step() == 0) {
    info.set_step(loaded->metadata.value("step", int64_t{0}));
    info.set_dev_cer(loaded->metadata.value("dev_cer", -1.0));
    info.set_dev_wer(loaded->metadata.value("dev_wer", -1.0));
  }
  info.set_name(name);
  info.set_streaming(!loaded->model->config().bidirectional);
  const nlohmann::json meta = {{"job_id", info.job_id()}, {"step", info.step()}, {"dev_cer", info.dev_cer()}};
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st = SaveModel(staging, loaded->model, meta); !st.ok()) return st;
  auto stored = store_->AddModelVersion(info);
  if (!stored.ok()) return stored.status();
  std::filesystem::rename(staging, PathOf(name, stored->version()), ec);
  if (ec) return absl::InternalError(absl::StrCat("publish: cannot place model file: ", ec.message()));
  return stored;
}

absl::StatusOr<std::vector<asr::v1::ModelVersion>> ModelRegistry::List(const std::string& name) {
  return store_->ListModels(name);
}

absl::StatusOr<std::shared_ptr<const RecognizerModel>> ModelRegistry::Get(const std::string& name,
                                                                          int version) {
  auto versions = store_->ListModels(name);
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  const asr::v1::ModelVersion* chosen = &versions->back();
  if (version > 0) {
    chosen = nullptr;
    for (const auto& v : *versions) {
      if (v.version() == version) chosen = &v;
    }
    if (chosen == nullptr)
      return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version));
  }
  const auto key = std::make_pair(name, chosen->version());
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto loaded =
      RecognizerModel::Load(PathOf(name, chosen->version()), absl::StrCat(name, ":", chosen->version()));
  if (!loaded.ok()) return loaded.status();
  cache_[key] = *loaded;
  return *loaded;
}

}  // namespace asr::server
