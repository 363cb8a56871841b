#include "server/dataset_upload.h"

#include <google/protobuf/util/time_util.h>

#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/training/dataset.h"
#include "server/paths.h"
#include "server/timestamps.h"

namespace asr::server {
namespace fs = std::filesystem;

DatasetUpload::DatasetUpload(std::string data_root, UploadLimits limits, JobStore* store)
    : data_root_(std::move(data_root)), limits_(limits), store_(store) {}

DatasetUpload::~DatasetUpload() {
  out_.reset();
  if (!finished_ && !staging_.empty()) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

absl::Status DatasetUpload::CloseFile() {
  if (!out_) return absl::OkStatus();
  out_->close();
  const bool write_ok = static_cast<bool>(*out_);
  out_.reset();
  if (!write_ok) return absl::InternalError(absl::StrCat("file '", file_path_, "': write failed"));
  if (file_received_ != file_size_) {
    return absl::InvalidArgumentError(absl::StrCat("file '", file_path_, "': received ", file_received_,
                                                   " bytes, header said ", file_size_));
  }
  const std::string digest = sha_->HexDigest();
  if (digest != file_sha_) {
    return absl::InvalidArgumentError(absl::StrCat("file '", file_path_, "': sha256 mismatch (got ", digest,
                                                   ", header said ", file_sha_, ")"));
  }
  return absl::OkStatus();
}

absl::Status DatasetUpload::Accept(const asr::v1::UploadDatasetRequest& part) {
  using R = asr::v1::UploadDatasetRequest;
  if (ended_) return absl::InvalidArgumentError("upload: data after end");
  switch (part.part_case()) {
    case R::kBegin: {
      if (begun_) return absl::InvalidArgumentError("upload: second begin");
      begun_ = true;
      name_ = part.begin().name();
      std::random_device rd;
      char id[32];
      std::snprintf(id, sizeof(id), "ds-%08x%04x", rd(), rd() & 0xffff);
      id_ = id;
      staging_ = (fs::path(data_root_) / "datasets" / (".incoming-" + id_)).string();
      std::error_code ec;
      fs::create_directories(staging_, ec);
      if (ec)
        return absl::InternalError(absl::StrCat("upload: cannot create staging directory: ", ec.message()));
      return absl::OkStatus();
    }
    case R::kFile: {
      if (!begun_) return absl::InvalidArgumentError("upload: file before begin");
      if (absl::Status st = CloseFile(); !st.ok()) return st;
      const R::FileHeader& h = part.file();
      if (++files_ > limits_.max_files) {
        return absl::ResourceExhaustedError(absl::StrCat("upload: more than ", limits_.max_files, " files"));
      }
      if (h.size() < 0)
        return absl::InvalidArgumentError(absl::StrCat("file '", h.path(), "': negative size"));
      if (bytes_ + h.size() > limits_.max_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat("upload: more than ", limits_.max_bytes, " bytes"));
      }
      if (h.sha256().size() != 64)
        return absl::InvalidArgumentError(
            absl::StrCat("file '", h.path(), "': sha256 must be 64 hex digits"));
      auto path = ConfinedPath(staging_, h.path(), "file.path");
      if (!path.ok()) return path.status();
      // A folder on the path that was sent as a file is the client's error.
      fs::path prefix;
      for (const fs::path& part : fs::path(h.path()).lexically_normal().parent_path()) {
        prefix /= part;
        std::error_code ec;
        if (fs::exists(fs::path(staging_) / prefix, ec) &&
            !fs::is_directory(fs::path(staging_) / prefix, ec)) {
          return absl::InvalidArgumentError(absl::StrCat("file '", h.path(), "': '", prefix.string(),
                                                         "' was sent as a file, not a folder"));
        }
      }
      std::error_code ec;
      fs::create_directories(fs::path(*path).parent_path(), ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("file '", h.path(), "': cannot create its folder: ", ec.message()));
      }
      if (fs::exists(*path)) {
        return absl::InvalidArgumentError(absl::StrCat("file '", h.path(), "': sent twice",
                                                       fs::is_directory(*path) ? " (already a folder)" : ""));
      }
      out_ = std::make_unique<std::ofstream>(*path, std::ios::binary);
      if (!*out_) return absl::InternalError(absl::StrCat("file '", h.path(), "': cannot create"));
      sha_ = std::make_unique<Sha256>();
      file_path_ = h.path();
      file_sha_ = h.sha256();
      file_size_ = h.size();
      file_received_ = 0;
      return absl::OkStatus();
    }
    case R::kChunk: {
      if (!out_) return absl::InvalidArgumentError("upload: chunk without a file header");
      const std::string& c = part.chunk();
      file_received_ += static_cast<int64_t>(c.size());
      bytes_ += static_cast<int64_t>(c.size());
      if (file_received_ > file_size_) {
        return absl::InvalidArgumentError(
            absl::StrCat("file '", file_path_, "': more bytes than its declared size ", file_size_));
      }
      sha_->Update(c.data(), c.size());
      out_->write(c.data(), static_cast<std::streamsize>(c.size()));
      return absl::OkStatus();
    }
    case R::kEnd:
      if (!begun_) return absl::InvalidArgumentError("upload: end before begin");
      ended_ = true;
      return CloseFile();
    default:
      return absl::InvalidArgumentError("upload: empty message");
  }
}

absl::StatusOr<asr::v1::Dataset> DatasetUpload::Finish() {
  if (!ended_) return absl::InvalidArgumentError("upload: stream closed before end");
  asr::v1::Dataset d;
  d.set_id(id_);
  d.set_name(name_);
  d.set_files(files_);
  d.set_bytes(bytes_);
  for (const auto& e : fs::directory_iterator(staging_)) {
    if (e.path().extension() != ".jsonl") continue;
    // Confined as training will be, so an upload that could never train
    // is refused now; messages name the dataset's future place.
    DataReport report;
    auto utts = ReadNemoManifest(e.path().string(), &report, data_root_);
    if (!utts.ok()) return utts.status();
    const auto shown = [&](const std::string& m) {
      return absl::StrReplaceAll(m, {{".incoming-" + id_, id_}});
    };
    if (!report.outside_root.empty()) return absl::InvalidArgumentError(shown(report.outside_root));
    if (utts->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest '", e.path().filename().string(), "' has no usable entries",
                       report.problems.empty() ? "" : ": " + shown(report.problems[0])));
    }
    (*d.mutable_utterances())[e.path().filename().string()] = static_cast<int64_t>(utts->size());
  }
  if (d.utterances().empty())
    return absl::InvalidArgumentError("upload: no manifest (*.jsonl) at the top level");
  std::error_code ec;
  const fs::path final_dir = fs::path(data_root_) / "datasets" / id_;
  fs::rename(staging_, final_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("upload: cannot publish dataset: ", ec.message()));
  finished_ = true;
  *d.mutable_create_time() = NowTimestamp();
  if (absl::Status st = store_->PutDataset(d); !st.ok()) return st;
  return d;
}

}  // namespace asr::server
