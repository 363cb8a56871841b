// A small RAII wrapper over one PostgreSQL connection (libpq): connect (a
// postgresql:// URI or key=value string, the password given apart from it),
// execute, parameterized queries, and reconnection after the server went
// away. The same shape as SqliteDb: parameters and rows are SqlValues.
// Not thread-safe: callers serialize access (PostgresJobStore holds a mutex).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/sql_database.h"

typedef struct pg_conn PGconn;

namespace asr::server {

class PgDb final : public SqlDatabase {
 public:
  // `password` (may be empty: then the URI's, ~/.pgpass or PGPASSWORD)
  // overrides any in `conninfo`. UNAVAILABLE if the server cannot be
  // reached, naming host and port but never the password.
  static absl::StatusOr<std::unique_ptr<PgDb>> Open(const std::string& conninfo, const std::string& password);
  ~PgDb();

  absl::Status Exec(const std::string& sql) override;
  // Runs `sql` with `params` bound to $1, $2, ...: strings as binary (they
  // may hold serialized protos, for BYTEA or TEXT columns), numbers as
  // text. Returns every row: BYTEA columns as raw bytes, integers as
  // int64, float8 as double, the rest as text. Errors: UNAVAILABLE when the
  // connection is lost (the next call reconnects), ABORTED for a unique
  // violation (the caller may retry), INTERNAL otherwise.
  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& params = {}) override;

 private:
  explicit PgDb(PGconn* conn) : conn_(conn) {}
  absl::Status Reconnect();
  PGconn* conn_;
};

}  // namespace asr::server
