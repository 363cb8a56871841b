#include "server/sqlite_db.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace asr::server {

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open job store '", path, "': ", msg));
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto st = out->Query(pragma); !st.ok()) return st.status();
  }
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

absl::Status SqliteDb::Error(const std::string& what) const {
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SqlRow>> SqliteDb::Query(const std::string& sql,
                                                    const std::vector<SqlValue>& params) {
  sqlite3_stmt* raw = nullptr;
  std::string numbered = sql;  // $N -> ?N
  for (size_t i = 0; i + 1 < numbered.size(); ++i) {
    if (numbered[i] == '$' && std::isdigit(static_cast<unsigned char>(numbered[i + 1]))) numbered[i] = '?';
  }
  if (sqlite3_prepare_v2(db_, numbered.c_str(), -1, &raw, nullptr) != SQLITE_OK)
    return Error("prepare " + sql);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  for (size_t i = 0; i < params.size(); ++i) {
    const int idx = static_cast<int>(i) + 1;
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(params[i])) {
      rc = sqlite3_bind_null(raw, idx);
    } else if (const auto* v = std::get_if<int64_t>(&params[i])) {
      rc = sqlite3_bind_int64(raw, idx, *v);
    } else if (const auto* d = std::get_if<double>(&params[i])) {
      rc = sqlite3_bind_double(raw, idx, *d);
    } else {
      const std::string& s = std::get<std::string>(params[i]);
      rc = sqlite3_bind_blob(raw, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return Error("bind");
  }
  std::vector<SqlRow> rows;
  while (true) {
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_CONSTRAINT) return absl::AbortedError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
    if (rc != SQLITE_ROW) return Error("step " + sql);
    SqlRow row;
    for (int c = 0; c < sqlite3_column_count(raw); ++c) {
      switch (sqlite3_column_type(raw, c)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, c)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(raw, c));
          break;
        case SQLITE_NULL:
          row.emplace_back(nullptr);
          break;
        default: {
          const void* p = sqlite3_column_blob(raw, c);
          row.emplace_back(
              std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(raw, c))));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace asr::server
