// Test support: a real PostgreSQL 15 server (Debian's postgresql-15) in a
// temporary directory on a free loopback port, with password (SCRAM)
// authentication, started by initdb + pg_ctl as an unprivileged user (the
// postgres account when the tests run as root) and stopped on destruction.
#pragma once

#include <memory>
#include <string>

namespace asr::testing {

class PostgresServer {
 public:
  // nullptr (and *why) if PostgreSQL is not installed or does not start.
  static std::unique_ptr<PostgresServer> Start(std::string* why);
  ~PostgresServer();

  // A new empty database; its URI (without the password).
  std::string NewDatabase();
  std::string Uri(const std::string& database) const;
  const std::string& password() const { return password_; }
  // Stops (immediate shutdown) and starts again on the same port and data.
  bool Stop();
  bool Restart();

 private:
  bool Ctl(const std::string& action, std::string* out = nullptr);
  std::string dir_, password_, user_ = "asr";
  int port_ = 0, databases_ = 0;
};

}  // namespace asr::testing
