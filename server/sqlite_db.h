// A small RAII wrapper over one SQLite connection: open (WAL journal,
// synchronous FULL, busy timeout), execute, prepared statements with
// bound parameters, and transactions. Not thread-safe: callers serialize
// access (JobStore holds a mutex).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/sql_database.h"

namespace asr::server {

class SqliteDb final : public SqlDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();

  absl::Status Exec(const std::string& sql) override;
  // Strings bind as BLOBs; $N is SQLite's ?N.
  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& params = {}) override;
  int64_t changes() const { return sqlite3_changes(db_); }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  absl::Status Error(const std::string& what) const;
  sqlite3* db_;
};

}  // namespace asr::server
