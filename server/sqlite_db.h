// A small RAII wrapper over one SQLite connection: open (WAL journal,
// synchronous FULL, busy timeout), execute, prepared statements with
// bound parameters, and transactions. Not thread-safe: callers serialize
// access (JobStore holds a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::server {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

class SqliteDb {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();

  absl::Status Exec(const std::string& sql);
  // Runs `sql` with `params` bound to ?1, ?2, ...; returns every result row.
  // Strings bind as BLOBs (they may hold serialized protos).
  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql, const std::vector<SqlValue>& params = {});
  int64_t changes() const { return sqlite3_changes(db_); }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  absl::Status Error(const std::string& what) const;
  sqlite3* db_;
};

// Column helpers for result rows.
int64_t AsInt(const SqlValue& v);
double AsDouble(const SqlValue& v);
std::string AsString(const SqlValue& v);

}  // namespace asr::server
