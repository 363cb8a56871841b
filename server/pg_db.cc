#include "server/pg_db.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace asr::server {
namespace {

// Type OIDs from PostgreSQL's pg_type.h.
constexpr Oid kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701;

std::string Where(PGconn* c) {
  const char* host = PQhost(c);
  const char* port = PQport(c);
  return absl::StrCat(host ? host : "?", ":", port ? port : "?", "/", PQdb(c) ? PQdb(c) : "?");
}

std::string Trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgDb>> PgDb::Open(const std::string& conninfo, const std::string& password) {
  // Later keys override what the expanded URI in "dbname" says.
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {conninfo.c_str(), "10", "asr-server"};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string why =
        absl::StrCat("postgresql: cannot connect to ", Where(c), ": ", Trimmed(PQerrorMessage(c)));
    PQfinish(c);
    return absl::UnavailableError(why);
  }
  // Server NOTICEs ("relation ... already exists, skipping") are not errors
  // and would go to stderr: drop them.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgDb>(new PgDb(c));
}

PgDb::~PgDb() { PQfinish(conn_); }

absl::Status PgDb::Reconnect() {
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  PQreset(conn_);
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("postgresql: connection to ", Where(conn_), " lost: ", Trimmed(PQerrorMessage(conn_))));
}

absl::Status PgDb::Exec(const std::string& sql) { return Query(sql).status(); }

absl::StatusOr<std::vector<SqlRow>> PgDb::Query(const std::string& sql, const std::vector<SqlValue>& params) {
  if (absl::Status st = Reconnect(); !st.ok()) return st;
  std::vector<std::string> text(params.size());
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& p = params[i];
    if (std::holds_alternative<std::nullptr_t>(p)) {
      values[i] = nullptr;
    } else if (const auto* s = std::get_if<std::string>(&p)) {
      values[i] = s->data();
      lengths[i] = static_cast<int>(s->size());
      formats[i] = 1;  // binary: the bytes as they are
    } else {
      text[i] = std::holds_alternative<int64_t>(p) ? std::to_string(std::get<int64_t>(p))
                                                   : absl::StrCat(std::get<double>(p));
      values[i] = text[i].c_str();
    }
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> r(
      params.empty() ? PQexec(conn_, sql.c_str())
                     : PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                    values.data(), lengths.data(), formats.data(), /*resultFormat=*/0),
      &PQclear);
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string why = Trimmed(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    if (PQstatus(conn_) != CONNECTION_OK || (state && std::strncmp(state, "08", 2) == 0)) {
      return absl::UnavailableError(absl::StrCat("postgresql: connection to ", Where(conn_), " lost: ", why));
    }
    if (state && std::strcmp(state, "23505") == 0)
      return absl::AbortedError(absl::StrCat("postgresql: ", why));
    return absl::InternalError(absl::StrCat("postgresql: ", why));
  }
  std::vector<SqlRow> rows(static_cast<size_t>(PQntuples(r.get())));
  const int columns = PQnfields(r.get());
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int c = 0; c < columns; ++c) {
      const int row = static_cast<int>(i);
      if (PQgetisnull(r.get(), row, c)) {
        rows[i].emplace_back(nullptr);
        continue;
      }
      const char* v = PQgetvalue(r.get(), row, c);
      switch (PQftype(r.get(), c)) {
        case kInt2:
        case kInt4:
        case kInt8:
          rows[i].emplace_back(static_cast<int64_t>(std::strtoll(v, nullptr, 10)));
          break;
        case kFloat4:
        case kFloat8:
          rows[i].emplace_back(std::strtod(v, nullptr));
          break;
        case kBytea: {
          size_t n = 0;
          unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &n);
          if (bytes == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
          rows[i].emplace_back(std::string(reinterpret_cast<const char*>(bytes), n));
          PQfreemem(bytes);
          break;
        }
        default:
          rows[i].emplace_back(std::string(v, static_cast<size_t>(PQgetlength(r.get(), row, c))));
      }
    }
  }
  return rows;
}

}  // namespace asr::server
