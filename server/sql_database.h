// What the job store needs of a SQL database, whichever it is: statements,
// and queries with parameters $1, $2, ... and rows of plain values. Two
// backends: SqliteDb (embedded, one server) and PgDb (PostgreSQL, shared by
// replicas). Implementations are not thread-safe: callers serialize access.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::server {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;
  // One or more statements without parameters.
  virtual absl::Status Exec(const std::string& sql) = 0;
  // Runs `sql` with `params` bound to $1, $2, ... (strings as bytes: they
  // may hold serialized protos); returns every result row. ABORTED for a
  // uniqueness violation (the caller may retry), UNAVAILABLE when the
  // database cannot be reached.
  virtual absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                                    const std::vector<SqlValue>& params = {}) = 0;
};

// Column helpers for result rows.
int64_t AsInt(const SqlValue& v);
double AsDouble(const SqlValue& v);
std::string AsString(const SqlValue& v);

}  // namespace asr::server
