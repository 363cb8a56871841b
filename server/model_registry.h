// Published model versions: files under STATE/models/<name>/<version>.asrmodel,
// records in the job store. Recognition loads them through Get(), which
// caches loaded models; a newly published version is visible to the next
// Get() without a restart, and holders of an older version keep it alive
// (shared_ptr) until they finish. Thread-safe.
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
  ModelRegistry(JobStore* store, std::string models_dir) : store_(store), dir_(std::move(models_dir)) {}

  // Copies the model in `source` (model file or checkpoint) to a new
  // version of `name`. With info.step() 0, step, dev_cer and dev_wer come
  // from the metadata the trainer saved in the file (read in the same load
  // as the weights). INVALID_ARGUMENT for a bad name.
  absl::StatusOr<asr::v1::ModelVersion> Publish(const std::string& name, const std::string& source,
                                                asr::v1::ModelVersion info);
  absl::StatusOr<std::vector<asr::v1::ModelVersion>> List(const std::string& name);
  // Version `version` of `name`, or the latest when version <= 0, labelled
  // "name:version". NOT_FOUND for unknown names/versions.
  absl::StatusOr<std::shared_ptr<const RecognizerModel>> Get(const std::string& name, int version);

  static absl::Status ValidateName(const std::string& name);

 private:
  std::string PathOf(const std::string& name, int version) const;
  JobStore* store_;  // not owned
  std::string dir_;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const RecognizerModel>> cache_;  // guarded by mu_
};

}  // namespace asr::server
