#include "server/job_store.h"

#include "absl/strings/str_cat.h"

namespace asr::server {
namespace {

template <class Proto>
absl::StatusOr<Proto> Parse(const SqlValue& v, const char* what) {
  Proto p;
  if (!p.ParseFromString(AsString(v)))
    return absl::DataLossError(absl::StrCat("job store: corrupt ", what, " record"));
  return p;
}

template <class Proto>
absl::StatusOr<std::vector<Proto>> ParseAll(const std::vector<SqlRow>& rows, const char* what) {
  std::vector<Proto> out;
  for (const SqlRow& r : rows) {
    auto p = Parse<Proto>(r[0], what);
    if (!p.ok()) return p.status();
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.status();
  const char* schema = R"sql(
    CREATE TABLE IF NOT EXISTS jobs (
      id TEXT PRIMARY KEY, state INTEGER NOT NULL, create_time REAL NOT NULL, data BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, create_time);
    CREATE TABLE IF NOT EXISTS events (
      job_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, seq));
    CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, create_time REAL NOT NULL, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS models (
      name TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, version));
  )sql";
  if (absl::Status st = (*db)->Exec(schema); !st.ok()) return st;
  return std::unique_ptr<JobStore>(new JobStore(std::move(*db)));
}

absl::Status JobStore::PutJob(const asr::v1::Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  const double created = static_cast<double>(job.create_time().seconds()) + job.create_time().nanos() * 1e-9;
  return db_
      ->Query("INSERT OR REPLACE INTO jobs (id, state, create_time, data) VALUES (?1, ?2, ?3, ?4)",
              {job.id(), static_cast<int64_t>(job.state()), created, job.SerializeAsString()})
      .status();
}

absl::StatusOr<asr::v1::Job> JobStore::GetJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM jobs WHERE id = ?1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return Parse<asr::v1::Job>((*rows)[0][0], "job");
}

absl::StatusOr<std::vector<asr::v1::Job>> JobStore::ListJobs(asr::v1::JobState state, int64_t limit,
                                                             int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = state == asr::v1::JOB_STATE_UNSPECIFIED
                  ? db_->Query("SELECT data FROM jobs ORDER BY create_time DESC, id DESC LIMIT ?1 OFFSET ?2",
                               {limit, offset})
                  : db_->Query(
                        "SELECT data FROM jobs WHERE state = ?3 ORDER BY create_time DESC, id DESC "
                        "LIMIT ?1 OFFSET ?2",
                        {limit, offset, static_cast<int64_t>(state)});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::Job>(*rows, "job");
}

absl::StatusOr<std::vector<asr::v1::Job>> JobStore::JobsInState(asr::v1::JobState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM jobs WHERE state = ?1 ORDER BY create_time, id",
                         {static_cast<int64_t>(state)});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::Job>(*rows, "job");
}

absl::StatusOr<int64_t> JobStore::CountJobs(asr::v1::JobState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT COUNT(*) FROM jobs WHERE state = ?1", {static_cast<int64_t>(state)});
  if (!rows.ok()) return rows.status();
  return AsInt((*rows)[0][0]);
}

absl::Status JobStore::DeleteJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st = db_->Query("DELETE FROM events WHERE job_id = ?1", {id}).status(); !st.ok())
    return st;
  return db_->Query("DELETE FROM jobs WHERE id = ?1", {id}).status();
}

absl::StatusOr<asr::v1::JobEvent> JobStore::AppendEvent(const std::string& job_id, asr::v1::JobEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st = db_->Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto last = db_->Query("SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?1", {job_id});
  if (!last.ok()) {
    (void)db_->Exec("ROLLBACK");
    return last.status();
  }
  event.set_sequence(AsInt((*last)[0][0]) + 1);
  auto ins = db_->Query("INSERT INTO events (job_id, seq, data) VALUES (?1, ?2, ?3)",
                        {job_id, event.sequence(), event.SerializeAsString()});
  if (!ins.ok()) {
    (void)db_->Exec("ROLLBACK");
    return ins.status();
  }
  if (absl::Status st = db_->Exec("COMMIT"); !st.ok()) return st;
  return event;
}

absl::StatusOr<std::vector<asr::v1::JobEvent>> JobStore::EventsAfter(const std::string& job_id,
                                                                     int64_t after_sequence, int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                         {job_id, after_sequence, limit});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::JobEvent>(*rows, "event");
}

absl::Status JobStore::PutDataset(const asr::v1::Dataset& d) {
  std::lock_guard<std::mutex> lock(mu_);
  const double created = static_cast<double>(d.create_time().seconds());
  return db_
      ->Query("INSERT OR REPLACE INTO datasets (id, create_time, data) VALUES (?1, ?2, ?3)",
              {d.id(), created, d.SerializeAsString()})
      .status();
}

absl::StatusOr<asr::v1::Dataset> JobStore::GetDataset(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM datasets WHERE id = ?1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat("dataset '", id, "' not found"));
  return Parse<asr::v1::Dataset>((*rows)[0][0], "dataset");
}

absl::StatusOr<std::vector<asr::v1::Dataset>> JobStore::ListDatasets() {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM datasets ORDER BY create_time DESC, id");
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::Dataset>(*rows, "dataset");
}

absl::StatusOr<asr::v1::ModelVersion> JobStore::AddModelVersion(asr::v1::ModelVersion model) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st = db_->Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto last = db_->Query("SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?1", {model.name()});
  if (!last.ok()) {
    (void)db_->Exec("ROLLBACK");
    return last.status();
  }
  model.set_version(static_cast<int32_t>(AsInt((*last)[0][0]) + 1));
  auto ins = db_->Query("INSERT INTO models (name, version, data) VALUES (?1, ?2, ?3)",
                        {model.name(), static_cast<int64_t>(model.version()), model.SerializeAsString()});
  if (!ins.ok()) {
    (void)db_->Exec("ROLLBACK");
    return ins.status();
  }
  if (absl::Status st = db_->Exec("COMMIT"); !st.ok()) return st;
  return model;
}

absl::StatusOr<std::vector<asr::v1::ModelVersion>> JobStore::ListModels(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = name.empty() ? db_->Query("SELECT data FROM models ORDER BY name, version")
                           : db_->Query("SELECT data FROM models WHERE name = ?1 ORDER BY version", {name});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::ModelVersion>(*rows, "model");
}

}  // namespace asr::server
