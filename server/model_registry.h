// Published model versions: files in a model store directory, named by
// their content (<store>/sha256/<hex>.asrmodel), records in the job store.
// Replicas share both (a ReadWriteMany volume and one database): a version
// never changes once published, and every server checks a file's SHA-256
// when it loads it. Recognition loads versions through Get(), which caches
// them; a newly published version is visible to the next Get() without a
// restart, and holders of an older version keep it alive (shared_ptr)
// until they finish. Versions published before the store was
// content-addressed stay at <store>/<name>/<version>.asrmodel.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/recognizer/recognizer_model.h"
#include "server/job_store.h"

namespace asr::server {

// Longest model name, bytes.
inline constexpr size_t kMaxModelNameBytes = 64;

class ModelRegistry {
 public:
  // `models_dir`: the model store (created if missing).
  ModelRegistry(JobStore* store, std::string models_dir) : store_(store), dir_(std::move(models_dir)) {}

  // Copies the model in `source` (model file or checkpoint) to a new
  // version of `name`. With info.step() 0, step, dev_cer and dev_wer come
  // from the metadata the trainer saved in the file (read in the same load
  // as the weights). INVALID_ARGUMENT for a bad name.
  absl::StatusOr<asr::v1::ModelVersion> Publish(const std::string& name, const std::string& source,
                                                asr::v1::ModelVersion info);
  absl::StatusOr<std::vector<asr::v1::ModelVersion>> List(const std::string& name);
  // Version `version` of `name`, or the latest when version <= 0, labelled
  // "name:version". NOT_FOUND for unknown names/versions, DATA_LOSS for a
  // stored file whose SHA-256 is not the one recorded. While the job store
  // is unreachable, versions already loaded are still served (for version
  // <= 0 the newest loaded); others fail with the store's UNAVAILABLE.
  absl::StatusOr<std::shared_ptr<const RecognizerModel>> Get(const std::string& name, int version);

  // Version `version` of `name` (latest when <= 0) and the path of its
  // file, unverified (GetModel streams it with its SHA-256). NOT_FOUND as Get.
  absl::StatusOr<std::pair<asr::v1::ModelVersion, std::string>> Locate(const std::string& name, int version);

  static absl::Status ValidateName(const std::string& name);

 private:
  static absl::StatusOr<asr::v1::ModelVersion> Choose(const std::vector<asr::v1::ModelVersion>& versions,
                                                      const std::string& name, int version);
  // Where version `v`'s file is: by its hash, or the pre-hash layout.
  std::string PathOf(const asr::v1::ModelVersion& v) const;
  JobStore* store_;  // not owned
  std::string dir_;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const RecognizerModel>> cache_;  // guarded by mu_
};

}  // namespace asr::server
