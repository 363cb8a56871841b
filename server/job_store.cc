#include "server/job_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/pg_db.h"
#include "server/sqlite_db.h"

namespace asr::server {
namespace {

// Schema versions, oldest first; a version once released never changes.
const JobStore::Dialect& Sqlite() {
  static const JobStore::Dialect d{"sqlite",
                                   "BEGIN IMMEDIATE",
                                   "",
                                   "",
                                   {R"sql(
        CREATE TABLE IF NOT EXISTS jobs (
          id TEXT PRIMARY KEY, state INTEGER NOT NULL, create_time REAL NOT NULL, data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, create_time);
        CREATE TABLE IF NOT EXISTS events (
          job_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, seq));
        CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, create_time REAL NOT NULL, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS models (
          name TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, version));
       )sql",
                                    "ALTER TABLE jobs ADD COLUMN owner TEXT",
                                    R"sql(
        CREATE TABLE replicas (name TEXT PRIMARY KEY, instance TEXT NOT NULL, heartbeat REAL NOT NULL);
        UPDATE jobs SET owner = '' WHERE owner IS NULL;
       )sql"},
                                   "((julianday('now') - 2440587.5) * 86400.0)",
                                   false};
  return d;
}

const JobStore::Dialect& Postgres() {
  static const JobStore::Dialect d{
      "postgresql",
      "BEGIN",
      " FOR UPDATE SKIP LOCKED",
      "SELECT pg_advisory_xact_lock(7315001)",  // replicas starting together migrate one at a time
      {R"sql(
        CREATE TABLE IF NOT EXISTS jobs (
          id TEXT PRIMARY KEY, state INTEGER NOT NULL, create_time DOUBLE PRECISION NOT NULL, data BYTEA NOT NULL);
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, create_time);
        CREATE TABLE IF NOT EXISTS events (
          job_id TEXT NOT NULL, seq BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (job_id, seq));
        CREATE TABLE IF NOT EXISTS datasets (
          id TEXT PRIMARY KEY, create_time DOUBLE PRECISION NOT NULL, data BYTEA NOT NULL);
        CREATE TABLE IF NOT EXISTS models (
          name TEXT NOT NULL, version INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (name, version));
       )sql",
       "ALTER TABLE jobs ADD COLUMN owner TEXT",
       R"sql(
        CREATE TABLE replicas (
          name TEXT PRIMARY KEY, instance TEXT NOT NULL, heartbeat DOUBLE PRECISION NOT NULL);
        UPDATE jobs SET owner = '' WHERE owner IS NULL;
       )sql"},
      "EXTRACT(EPOCH FROM clock_timestamp())::double precision",
      true};
  return d;
}

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

double Seconds(const google::protobuf::Timestamp& t) {
  return static_cast<double>(t.seconds()) + t.nanos() * 1e-9;
}

// Numbers taken as MAX + 1 inside a transaction can collide between
// replicas (PostgreSQL does not lock an aggregate): the loser retries.
constexpr int kNumberingAttempts = 20;

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& target,
                                                         const std::string& password) {
  std::unique_ptr<JobStore> store;
  if (absl::StartsWith(target, "postgresql://") || absl::StartsWith(target, "postgres://")) {
    auto db = PgDb::Open(target, password);
    if (!db.ok()) return db.status();
    store.reset(new JobStore(std::move(*db), Postgres()));
  } else {
    auto db = SqliteDb::Open(target);
    if (!db.ok()) return db.status();
    store.reset(new JobStore(std::move(*db), Sqlite()));
  }
  if (absl::Status st = store->Migrate(); !st.ok()) return st;
  return store;
}

absl::Status JobStore::InTransaction(const std::function<absl::Status()>& body) {
  if (absl::Status st = db_->Exec(dialect_.begin); !st.ok()) return st;
  absl::Status st = body();
  if (st.ok()) st = db_->Exec("COMMIT");
  if (!st.ok()) (void)db_->Exec("ROLLBACK");
  return st;
}

absl::Status JobStore::Migrate() {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st =
          db_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)");
      !st.ok())
    return st;
  const int latest = static_cast<int>(dialect_.migrations.size());
  return InTransaction([&]() -> absl::Status {
    if (*dialect_.migration_lock) {
      if (absl::Status st = db_->Query(dialect_.migration_lock).status(); !st.ok()) return st;
    }
    auto current = db_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!current.ok()) return current.status();
    const int have = static_cast<int>(AsInt((*current)[0][0]));
    if (have > latest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job store: schema version ", have, " is newer than this server's ", latest, "; upgrade it"));
    }
    for (int v = have; v < latest; ++v) {
      if (absl::Status st = db_->Exec(dialect_.migrations[static_cast<size_t>(v)]); !st.ok()) {
        return absl::Status(st.code(), absl::StrCat("job store: migration ", v + 1, ": ", st.message()));
      }
      auto done = db_->Query("INSERT INTO schema_migrations (version) VALUES ($1)", {int64_t{v + 1}});
      if (!done.ok()) return done.status();
    }
    schema_version_ = latest;
    return absl::OkStatus();
  });
}

absl::Status JobStore::PutJob(const asr::v1::Job& job, const std::string& expected_replica) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query(
      "INSERT INTO jobs (id, state, create_time, data, owner) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) "
      "DO "
      "UPDATE SET state = excluded.state, create_time = excluded.create_time, data = excluded.data, "
      "owner = excluded.owner WHERE COALESCE(jobs.owner, '') = $6 RETURNING id",
      {job.id(), static_cast<int64_t>(job.state()), Seconds(job.create_time()), job.SerializeAsString(),
       job.replica(), expected_replica});
  if (!rows.ok()) return rows.status();
  if (!rows->empty()) return absl::OkStatus();
  auto owner = db_->Query("SELECT COALESCE(owner, '') FROM jobs WHERE id = $1", {job.id()});
  if (!owner.ok()) return owner.status();
  const std::string holder = owner->empty() ? "" : AsString((*owner)[0][0]);
  return absl::FailedPreconditionError(
      absl::StrCat("job '", job.id(), "' is ",
                   holder.empty() ? "no longer run by replica '" + expected_replica + "'"
                                  : "run by replica '" + holder + "'"));
}

absl::StatusOr<asr::v1::Job> JobStore::GetJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM jobs WHERE id = $1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return Parse<asr::v1::Job>((*rows)[0][0], "job");
}

absl::StatusOr<std::vector<asr::v1::Job>> JobStore::ListJobs(asr::v1::JobState state, int64_t limit,
                                                             int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = state == asr::v1::JOB_STATE_UNSPECIFIED
                  ? db_->Query("SELECT data FROM jobs ORDER BY create_time DESC, id DESC LIMIT $1 OFFSET $2",
                               {limit, offset})
                  : db_->Query(
                        "SELECT data FROM jobs WHERE state = $1 ORDER BY create_time DESC, id DESC "
                        "LIMIT $2 OFFSET $3",
                        {static_cast<int64_t>(state), limit, offset});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::Job>(*rows, "job");
}

absl::StatusOr<std::vector<asr::v1::Job>> JobStore::JobsInState(asr::v1::JobState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM jobs WHERE state = $1 ORDER BY create_time, id",
                         {static_cast<int64_t>(state)});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::Job>(*rows, "job");
}

absl::StatusOr<int64_t> JobStore::CountJobs(asr::v1::JobState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT COUNT(*) FROM jobs WHERE state = $1", {static_cast<int64_t>(state)});
  if (!rows.ok()) return rows.status();
  return AsInt((*rows)[0][0]);
}

absl::Status JobStore::DeleteJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> absl::Status {
    if (absl::Status st = db_->Query("DELETE FROM events WHERE job_id = $1", {id}).status(); !st.ok())
      return st;
    return db_->Query("DELETE FROM jobs WHERE id = $1", {id}).status();
  });
}

absl::StatusOr<std::optional<asr::v1::Job>> JobStore::ClaimQueuedJob(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<asr::v1::Job> claimed;
  absl::Status st = InTransaction([&]() -> absl::Status {
    auto rows =
        db_->Query(absl::StrCat("SELECT data FROM jobs WHERE state = $1 ORDER BY create_time, id LIMIT 1",
                                dialect_.skip_locked),
                   {static_cast<int64_t>(asr::v1::QUEUED)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::OkStatus();
    auto job = Parse<asr::v1::Job>((*rows)[0][0], "job");
    if (!job.ok()) return job.status();
    job->set_state(asr::v1::RUNNING);
    job->set_replica(owner);
    auto updated =
        db_->Query("UPDATE jobs SET state = $1, owner = $2, data = $3 WHERE id = $4",
                   {static_cast<int64_t>(asr::v1::RUNNING), owner, job->SerializeAsString(), job->id()});
    if (!updated.ok()) return updated.status();
    claimed = std::move(*job);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return claimed;
}

absl::Status JobStore::RenewLease(const std::string& name, const std::string& instance,
                                  double lease_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> absl::Status {
    auto held = db_->Query(
        absl::StrCat("SELECT instance, ", dialect_.now, " - heartbeat FROM replicas WHERE name = $1",
                     dialect_.shared ? " FOR UPDATE" : ""),
        {name});
    if (!held.ok()) return held.status();
    if (!held->empty() && AsString((*held)[0][0]) != instance && AsDouble((*held)[0][1]) < lease_seconds) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another server named '", name, "' renewed its lease ", absl::SixDigits(AsDouble((*held)[0][1])),
          " s ago (leases last ", lease_seconds, " s); give each replica its own --replica-name"));
    }
    return db_
        ->Query(
            absl::StrCat("INSERT INTO replicas (name, instance, heartbeat) VALUES ($1, $2, ", dialect_.now,
                         ") ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, "
                         "heartbeat = excluded.heartbeat"),
            {name, instance})
        .status();
  });
}

absl::Status JobStore::ReleaseLease(const std::string& name, const std::string& instance) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_->Query("DELETE FROM replicas WHERE name = $1 AND instance = $2", {name, instance}).status();
}

absl::StatusOr<std::vector<asr::v1::Job>> JobStore::RequeueJobsOfLostReplicas(
    double lease_seconds, const std::function<std::vector<asr::v1::JobEvent>(const asr::v1::Job&)>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<asr::v1::Job> lost;
  absl::Status st = InTransaction([&]() -> absl::Status {
    auto rows = db_->Query(
        absl::StrCat("SELECT data FROM jobs WHERE state = $1 AND COALESCE(owner, '') <> '' AND owner NOT IN "
                     "(SELECT name FROM replicas WHERE heartbeat > ",
                     dialect_.now, " - $2) ORDER BY create_time, id", dialect_.skip_locked),
        {static_cast<int64_t>(asr::v1::RUNNING), lease_seconds});
    if (!rows.ok()) return rows.status();
    auto jobs = ParseAll<asr::v1::Job>(*rows, "job");
    if (!jobs.ok()) return jobs.status();
    for (const asr::v1::Job& job : *jobs) {
      asr::v1::Job queued = job;
      queued.set_state(asr::v1::QUEUED);
      queued.clear_replica();
      auto updated =
          db_->Query("UPDATE jobs SET state = $1, owner = '', data = $2 WHERE id = $3",
                     {static_cast<int64_t>(asr::v1::QUEUED), queued.SerializeAsString(), job.id()});
      if (!updated.ok()) return updated.status();
      if (!events) continue;
      for (asr::v1::JobEvent& e : events(job)) {
        if (absl::Status st = InsertEvent(job.id(), &e); !st.ok()) return st;
      }
    }
    lost = std::move(*jobs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return lost;
}

absl::StatusOr<asr::v1::JobEvent> JobStore::AppendEvent(const std::string& job_id, asr::v1::JobEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status st;
  for (int attempt = 0; attempt < kNumberingAttempts; ++attempt) {
    st = InTransaction([&] { return InsertEvent(job_id, &event); });
    if (!absl::IsAborted(st)) break;
  }
  if (!st.ok()) return st;
  return event;
}

absl::Status JobStore::InsertEvent(const std::string& job_id, asr::v1::JobEvent* event) {
  auto last = db_->Query("SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = $1", {job_id});
  if (!last.ok()) return last.status();
  event->set_sequence(AsInt((*last)[0][0]) + 1);
  return db_
      ->Query("INSERT INTO events (job_id, seq, data) VALUES ($1, $2, $3)",
              {job_id, event->sequence(), event->SerializeAsString()})
      .status();
}

absl::StatusOr<std::vector<asr::v1::JobEvent>> JobStore::EventsAfter(const std::string& job_id,
                                                                     int64_t after_sequence, int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                         {job_id, after_sequence, limit});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::JobEvent>(*rows, "event");
}

absl::Status JobStore::PutDataset(const asr::v1::Dataset& d) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_
      ->Query(
          "INSERT INTO datasets (id, create_time, data) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE "
          "SET create_time = excluded.create_time, data = excluded.data",
          {d.id(), static_cast<double>(d.create_time().seconds()), d.SerializeAsString()})
      .status();
}

absl::StatusOr<asr::v1::Dataset> JobStore::GetDataset(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = db_->Query("SELECT data FROM datasets WHERE id = $1", {id});
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
  absl::Status st;
  for (int attempt = 0; attempt < kNumberingAttempts; ++attempt) {
    st = InTransaction([&]() -> absl::Status {
      auto last = db_->Query("SELECT COALESCE(MAX(version), 0) FROM models WHERE name = $1", {model.name()});
      if (!last.ok()) return last.status();
      model.set_version(static_cast<int32_t>(AsInt((*last)[0][0]) + 1));
      return db_
          ->Query("INSERT INTO models (name, version, data) VALUES ($1, $2, $3)",
                  {model.name(), static_cast<int64_t>(model.version()), model.SerializeAsString()})
          .status();
    });
    if (!absl::IsAborted(st)) break;
  }
  if (!st.ok()) return st;
  return model;
}

absl::StatusOr<std::vector<asr::v1::ModelVersion>> JobStore::ListModels(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rows = name.empty() ? db_->Query("SELECT data FROM models ORDER BY name, version")
                           : db_->Query("SELECT data FROM models WHERE name = $1 ORDER BY version", {name});
  if (!rows.ok()) return rows.status();
  return ParseAll<asr::v1::ModelVersion>(*rows, "model");
}

}  // namespace asr::server
