// Durable server state in SQLite (WAL) under the state directory: training
// jobs and their event logs, uploaded datasets, published model versions.
// Records are stored as serialized asr.v1 protos next to the columns that
// queries filter on. Thread-safe (one connection behind a mutex).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "server/sqlite_db.h"

namespace asr::server {

class JobStore {
 public:
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);

  absl::Status PutJob(const asr::v1::Job& job);  // insert or replace
  absl::StatusOr<asr::v1::Job> GetJob(const std::string& id);
  // Newest first; state UNSPECIFIED = all.
  absl::StatusOr<std::vector<asr::v1::Job>> ListJobs(asr::v1::JobState state, int64_t limit, int64_t offset);
  // Oldest first, for the queue and recovery.
  absl::StatusOr<std::vector<asr::v1::Job>> JobsInState(asr::v1::JobState state);
  absl::StatusOr<int64_t> CountJobs(asr::v1::JobState state);
  absl::Status DeleteJob(const std::string& id);  // and its events

  // Appends an event, assigning the job's next sequence number (1, 2, ...);
  // returns the stored event.
  absl::StatusOr<asr::v1::JobEvent> AppendEvent(const std::string& job_id, asr::v1::JobEvent event);
  absl::StatusOr<std::vector<asr::v1::JobEvent>> EventsAfter(const std::string& job_id,
                                                             int64_t after_sequence, int64_t limit);

  absl::Status PutDataset(const asr::v1::Dataset& dataset);
  absl::StatusOr<asr::v1::Dataset> GetDataset(const std::string& id);
  absl::StatusOr<std::vector<asr::v1::Dataset>> ListDatasets();

  // Assigns the next version for model.name() and stores it.
  absl::StatusOr<asr::v1::ModelVersion> AddModelVersion(asr::v1::ModelVersion model);
  // All versions (of `name`, or of every model when empty), by name then version.
  absl::StatusOr<std::vector<asr::v1::ModelVersion>> ListModels(const std::string& name);

 private:
  explicit JobStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace asr::server
