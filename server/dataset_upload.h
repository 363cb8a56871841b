// Receiving one UploadDataset stream: files land in a private staging
// directory under DATA_ROOT/datasets/, each verified against its declared
// size and SHA-256; at the end the manifests (*.jsonl) are checked and the
// directory is moved into place as DATA_ROOT/datasets/<id>. Anything that
// fails leaves nothing behind. Not thread-safe; one per stream.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "model/base/sha256.h"
#include "server/job_store.h"

namespace asr::server {

struct UploadLimits {
  int64_t max_bytes = int64_t{4} << 30;  // per dataset
  int64_t max_files = 200000;
};

class DatasetUpload {
 public:
  DatasetUpload(std::string data_root, UploadLimits limits, JobStore* store);
  ~DatasetUpload();  // removes the staging directory unless Finish() succeeded

  // Parts in stream order (begin, then file headers each followed by
  // chunks, then end). Errors: INVALID_ARGUMENT (order, paths, sizes,
  // checksums), RESOURCE_EXHAUSTED (limits).
  absl::Status Accept(const asr::v1::UploadDatasetRequest& part);
  // After `end`: validates manifests, publishes the dataset, records it.
  absl::StatusOr<asr::v1::Dataset> Finish();
  int64_t bytes_received() const { return bytes_; }

 private:
  absl::Status CloseFile();

  std::string data_root_, staging_, id_, name_;
  UploadLimits limits_;
  JobStore* store_;  // not owned
  bool begun_ = false, ended_ = false, finished_ = false;
  int64_t files_ = 0, bytes_ = 0;
  // The file being received.
  std::string file_path_, file_sha_;
  int64_t file_size_ = 0, file_received_ = 0;
  std::unique_ptr<std::ofstream> out_;
  std::unique_ptr<Sha256> sha_;
};

}  // namespace asr::server
