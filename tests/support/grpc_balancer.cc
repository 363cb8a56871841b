#include "tests/support/grpc_balancer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace asr::testing {
namespace {

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<GrpcBalancer> GrpcBalancer::Start(const std::vector<std::string>& upstreams,
                                                  std::string* why) {
  const std::string nginx = "/usr/sbin/nginx";
  if (access(nginx.c_str(), X_OK) != 0) {
    *why = nginx + " is missing (Debian's nginx-light; scripts/install-deps.sh installs it)";
    return nullptr;
  }
  std::unique_ptr<GrpcBalancer> b(new GrpcBalancer());
  const std::string dir = MakeTempDir("asr-nginx");
  b->port_ = FreePort();
  std::ofstream conf(dir + "/nginx.conf");
  conf << "daemon off;\nworker_processes 1;\npid " << dir << "/nginx.pid;\nerror_log stderr warn;\n"
       << "events { worker_connections 1024; }\n"
       << "http {\n  access_log off;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf << "  " << t << "_temp_path " << dir << "/" << t << ";\n";
  }
  conf << "  upstream asr {\n";
  for (const std::string& u : upstreams) conf << "    server " << u << " max_fails=1 fail_timeout=30s;\n";
  // Long streams: no read or body timeout shorter than a stream.
  conf << "  }\n  server {\n    listen 127.0.0.1:" << b->port_ << " http2;\n"
       << "    client_max_body_size 0;\n    client_body_timeout 600s;\n"
       << "    location / {\n      grpc_pass grpc://asr;\n      grpc_read_timeout 600s;\n"
       << "      grpc_send_timeout 600s;\n      grpc_next_upstream error timeout non_idempotent;\n"
       << "    }\n  }\n}\n";
  conf.close();
  b->process_ = ChildProcess::Start({nginx, "-p", dir, "-c", dir + "/nginx.conf"}, dir + "/nginx.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Accepts(b->port_)) {
    if (!b->process_ || !b->process_->running() || std::chrono::steady_clock::now() > deadline) {
      *why = "nginx did not start: " + (b->process_ ? b->process_->log() : std::string("could not run it"));
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return b;
}

}  // namespace asr::testing
