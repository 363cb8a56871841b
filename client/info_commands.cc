// `asr-client health` and `asr-client info`.
#include <cstdio>

#include "asr/v1/info.grpc.pb.h"
#include "client/commands.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace asr::client {

void AddHealthCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("health", "print SERVING, or the error; exit 1 unless serving");
  auto service = std::make_shared<std::string>();
  cmd->add_option("--service", *service, "service name to check (empty = whole server)");
  cmd->callback([&conn, exit_code, service] {
    auto stub = grpc::health::v1::Health::NewStub(MakeChannel(conn));
    auto ctx = MakeContext(conn);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(*service);
    grpc::health::v1::HealthCheckResponse resp;
    const grpc::Status st = stub->Check(ctx.get(), req, &resp);
    if (!st.ok()) {
      std::fprintf(stderr, "asr-client: health check of %s failed: %s\n", conn.server.c_str(),
                   Describe(st).c_str());
      *exit_code = 1;
      return;
    }
    if (conn.json) {
      std::printf("%s\n", ToJsonLine(resp).c_str());
    } else {
      std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()).c_str());
    }
    *exit_code = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  });
}

void AddInfoCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("info", "print the server's version and compute setup");
  cmd->callback([&conn, exit_code] {
    auto stub = asr::v1::InfoService::NewStub(MakeChannel(conn));
    *exit_code = CallAndPrint(
        conn, "info from " + conn.server, *stub, &asr::v1::InfoService::Stub::GetServerInfo,
        asr::v1::GetServerInfoRequest(), [](const asr::v1::ServerInfo& info) {
          std::printf(
              "version %s (%s)\nlibtorch %s\ncuda %s\ncompute_threads %d\nuptime_seconds "
              "%.1f\n",
              info.version().c_str(), info.git_commit().c_str(), info.torch_version().c_str(),
              info.cuda_available() ? "yes" : "no", info.compute_threads(), info.uptime_seconds());
        });
  });
}

}  // namespace asr::client
