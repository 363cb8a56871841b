#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/process.h"

namespace asr::testing {
namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin/";

// argv run as the postgres account when we are root (initdb refuses root).
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start(std::string* why) {
  if (!std::filesystem::exists(kBin + "initdb")) {
    *why = "PostgreSQL 15 is not installed (scripts/install-deps.sh installs postgresql-15)";
    return nullptr;
  }
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->dir_ = MakeTempDir("asr-pg");
  s->password_ = "pw-" + std::to_string(getpid());
  std::ofstream(s->dir_ + "/pwfile") << s->password_ << "\n";
  if (geteuid() == 0) {
    const passwd* pg = getpwnam("postgres");
    if (pg == nullptr) {
      *why = "no postgres account to run the server as";
      return nullptr;
    }
    std::filesystem::permissions(s->dir_, std::filesystem::perms::owner_all);
    for (const auto& p : {s->dir_, s->dir_ + "/pwfile"}) {
      if (chown(p.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
        *why = "cannot chown " + p;
        return nullptr;
      }
    }
  }
  const ProcessResult init = RunProcess(
      AsServerUser({kBin + "initdb", "-D", s->dir_ + "/data", "-U", s->user_,
                    "--pwfile=" + s->dir_ + "/pwfile", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"}),
      120);
  if (init.exit_code != 0) {
    *why = "initdb failed: " + init.out + init.err;
    return nullptr;
  }
  s->port_ = FreePort();
  std::string out;
  if (!s->Ctl("start", &out)) {
    *why = "pg_ctl start failed: " + out + ReadFileOrEmpty(s->dir_ + "/log");
    return nullptr;
  }
  return s;
}

bool PostgresServer::Ctl(const std::string& action, std::string* out) {
  std::vector<std::string> argv = {kBin + "pg_ctl", "-D", dir_ + "/data", "-l",
                                   dir_ + "/log",   "-w", "-t",           "60"};
  if (action == "start") {
    argv.push_back("-o");
    argv.push_back("-p " + std::to_string(port_) + " -c listen_addresses=127.0.0.1 -k " + dir_ +
                   " -c fsync=off -c max_connections=50");
  } else {
    argv.insert(argv.end(), {"-m", "immediate"});
  }
  argv.push_back(action);
  const ProcessResult r = RunProcess(AsServerUser(argv), 90);
  if (out) *out = r.out + r.err;
  return r.exit_code == 0;
}

bool PostgresServer::Stop() { return Ctl("stop"); }
bool PostgresServer::Restart() { return Ctl("start"); }

PostgresServer::~PostgresServer() { Ctl("stop"); }

std::string PostgresServer::Uri(const std::string& database) const {
  return "postgresql://" + user_ + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::NewDatabase() {
  const std::string name = "t" + std::to_string(++databases_);
  const ProcessResult r =
      RunProcess({"/usr/bin/psql", Uri("postgres"), "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE " + name},
                 60, {"PGPASSWORD=" + password_});
  return r.exit_code == 0 ? name : "";
}

}  // namespace asr::testing
