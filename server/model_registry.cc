#include "server/model_registry.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/base/sha256.h"
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

std::string ModelRegistry::PathOf(const asr::v1::ModelVersion& v) const {
  if (!v.sha256().empty())
    return (std::filesystem::path(dir_) / "sha256" / (v.sha256() + ".asrmodel")).string();
  return (std::filesystem::path(dir_) / v.name() / absl::StrCat(v.version(), ".asrmodel")).string();
}

absl::StatusOr<asr::v1::ModelVersion> ModelRegistry::Publish(const std::string& name,
                                                             const std::string& source,
                                                             asr::v1::ModelVersion info) {
  if (absl::Status st = ValidateName(name); !st.ok()) return st;
  auto loaded = LoadModel(source);
  if (!loaded.ok()) return loaded.status();
  std::error_code ec;
  const std::filesystem::path by_hash = std::filesystem::path(dir_) / "sha256";
  std::filesystem::create_directories(by_hash, ec);
  // Unique per publication: replicas may publish into the same store at once.
  const std::string staging =
      (by_hash / absl::StrCat(".publishing-", std::hash<std::thread::id>()(std::this_thread::get_id()), "-",
                              std::chrono::steady_clock::now().time_since_epoch().count(), ".asrmodel"))
          .string();
  if (info.step() == 0) {
    info.set_step(loaded->metadata.value("step", int64_t{0}));
    info.set_dev_cer(loaded->metadata.value("dev_cer", -1.0));
    info.set_dev_wer(loaded->metadata.value("dev_wer", -1.0));
  }
  info.set_name(name);
  info.set_streaming(!loaded->model->config().bidirectional);
  const nlohmann::json meta = {{"job_id", info.job_id()}, {"step", info.step()}, {"dev_cer", info.dev_cer()}};
  if (absl::Status st = SaveModel(staging, loaded->model, meta); !st.ok()) return st;
  auto hash = Sha256FileHex(staging);
  if (!hash.ok()) return hash.status();
  info.set_sha256(*hash);
  // The file is in place before the record: a replica that sees the
  // version finds its file. Same bytes, same name: a rename onto an
  // existing copy changes nothing.
  std::filesystem::rename(staging, PathOf(info), ec);
  if (ec) {
    std::filesystem::remove(staging, ec);
    return absl::InternalError(absl::StrCat("publish: cannot place model file: ", ec.message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return store_->AddModelVersion(info);
}

absl::StatusOr<std::vector<asr::v1::ModelVersion>> ModelRegistry::List(const std::string& name) {
  return store_->ListModels(name);
}

absl::StatusOr<asr::v1::ModelVersion> ModelRegistry::Choose(
    const std::vector<asr::v1::ModelVersion>& versions, const std::string& name, int version) {
  if (versions.empty()) return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  if (version <= 0) return versions.back();
  for (const auto& v : versions) {
    if (v.version() == version) return v;
  }
  return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version));
}

absl::StatusOr<std::pair<asr::v1::ModelVersion, std::string>> ModelRegistry::Locate(const std::string& name,
                                                                                    int version) {
  if (absl::Status st = ValidateName(name); !st.ok()) return st;
  auto versions = store_->ListModels(name);
  if (!versions.ok()) return versions.status();
  auto chosen = Choose(*versions, name, version);
  if (!chosen.ok()) return chosen.status();
  return std::make_pair(*chosen, PathOf(*chosen));
}

absl::StatusOr<std::shared_ptr<const RecognizerModel>> ModelRegistry::Get(const std::string& name,
                                                                          int version) {
  auto versions = store_->ListModels(name);
  if (!versions.ok()) {
    // The database is unreachable: serve what is loaded already (the
    // version asked for, or for "latest" the newest loaded), so
    // recognition outlives a database outage.
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<const RecognizerModel> cached;
    for (const auto& [key, model] : cache_) {
      if (key.first == name && (version <= 0 || key.second == version)) cached = model;  // ascending versions
    }
    if (cached) return cached;
    return versions.status();
  }
  auto found = Choose(*versions, name, version);
  if (!found.ok()) return found.status();
  const asr::v1::ModelVersion* chosen = &*found;
  const auto key = std::make_pair(name, chosen->version());
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  const std::string path = PathOf(*chosen), label = absl::StrCat(name, ":", chosen->version());
  if (!chosen->sha256().empty()) {
    auto hash = Sha256FileHex(path);
    if (!hash.ok()) return absl::DataLossError(absl::StrCat("model ", label, ": ", hash.status().message()));
    if (*hash != chosen->sha256()) {
      return absl::DataLossError(absl::StrCat("model ", label, ": its file's SHA-256 is ", *hash,
                                              ", not the ", chosen->sha256(), " recorded at publication"));
    }
  }
  auto loaded = RecognizerModel::Load(path, label);
  if (!loaded.ok()) return loaded.status();
  cache_[key] = *loaded;
  return *loaded;
}

}  // namespace asr::server
