// Durable server state: training jobs and their event logs, uploaded
// datasets, published model versions. Records are stored as serialized
// asr.v1 protos next to the columns that queries filter on. Two backends
// behind SqlDatabase, one schema (versioned migrations, applied at Open):
//   SQLite (WAL) in the state directory: the embedded default, one server.
//   PostgreSQL: shared by several replicas; a job is claimed by one of them
//   (ClaimQueuedJob, FOR UPDATE SKIP LOCKED), events and model versions
//   get their numbers from the database.
// Thread-safe (one connection behind a mutex).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/v1/training.pb.h"
#include "server/sql_database.h"

namespace asr::server {

class JobStore {
 public:
  // `target`: a postgresql:// (or postgres://) URI, whose password is
  // `password` when that is not empty; anything else is a SQLite file path.
  // Applies the schema migrations the database lacks. UNAVAILABLE when the
  // database cannot be reached.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& target,
                                                        const std::string& password = "");
  // The schema version after Open (the number of migrations applied).
  int schema_version() const { return schema_version_; }
  const char* backend() const { return dialect_.name; }

  // Inserts or replaces the job, whose `replica` becomes its owner, but
  // replaces only a record owned by `expected_replica` ("" = by none):
  // FAILED_PRECONDITION naming the holder otherwise (another replica took
  // the job over; the caller must stop running it).
  absl::Status PutJob(const asr::v1::Job& job, const std::string& expected_replica = "");
  absl::StatusOr<asr::v1::Job> GetJob(const std::string& id);
  // Newest first; state UNSPECIFIED = all.
  absl::StatusOr<std::vector<asr::v1::Job>> ListJobs(asr::v1::JobState state, int64_t limit, int64_t offset);
  // Oldest first, for the queue and recovery.
  absl::StatusOr<std::vector<asr::v1::Job>> JobsInState(asr::v1::JobState state);
  absl::StatusOr<int64_t> CountJobs(asr::v1::JobState state);
  absl::Status DeleteJob(const std::string& id);  // and its events
  // Takes the oldest QUEUED job for `owner` (a replica's name): it becomes
  // RUNNING, atomically, so that no two callers anywhere get the same job.
  // nullopt when none is queued.
  absl::StatusOr<std::optional<asr::v1::Job>> ClaimQueuedJob(const std::string& owner);

  // Replica leases, timed by the database's clock. Renews the lease of
  // replica `name` held by process `instance` (random per start);
  // FAILED_PRECONDITION, saying how old it is, while another instance holds
  // a lease on `name` renewed less than `lease_seconds` ago.
  absl::Status RenewLease(const std::string& name, const std::string& instance, double lease_seconds);
  // Gives the lease up (a replica stopping cleanly).
  absl::Status ReleaseLease(const std::string& name, const std::string& instance);
  // RUNNING jobs whose replica holds no lease renewed in the last
  // `lease_seconds` (it died or lost the database) become QUEUED with no
  // owner, with the events `events(job)` appended, atomically (no replica
  // claims one before its events are in); returned as they were, each with
  // its old replica.
  absl::StatusOr<std::vector<asr::v1::Job>> RequeueJobsOfLostReplicas(
      double lease_seconds,
      const std::function<std::vector<asr::v1::JobEvent>(const asr::v1::Job&)>& events = {});
  // Whether several servers may share this store (PostgreSQL).
  bool shared() const { return dialect_.shared; }

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

  // What differs between the backends' SQL.
  struct Dialect {
    const char* name;                     // "sqlite", "postgresql"
    const char* begin;                    // a transaction that writes
    const char* skip_locked;              // appended to the claim's SELECT
    const char* migration_lock;           // run first inside the migrations' transaction ("" = none)
    std::vector<std::string> migrations;  // version i + 1 = migrations[i]
    const char* now;                      // the database's clock, Unix seconds
    bool shared;                          // replicas may share it
  };

 private:
  JobStore(std::unique_ptr<SqlDatabase> db, Dialect dialect)
      : db_(std::move(db)), dialect_(std::move(dialect)) {}
  absl::Status Migrate();
  // Appends `event` with the job's next sequence number (set in it); mu_
  // held, inside a transaction.
  absl::Status InsertEvent(const std::string& job_id, asr::v1::JobEvent* event);
  // Runs `body` in a write transaction; rolls back if it fails. mu_ held.
  absl::Status InTransaction(const std::function<absl::Status()>& body);
  std::mutex mu_;
  std::unique_ptr<SqlDatabase> db_;  // guarded by mu_
  const Dialect dialect_;
  int schema_version_ = 0;
};

}  // namespace asr::server
