// asr-web: the browsers' way in. An HTTP/1.1 + WebSocket server (Boost.Beast)
// that serves the pages of static/ and translates for asr-server:
//   WS  /ws/recognize          one StreamingRecognize call: first a text
//                              message {"token", "config": RecognitionConfig
//                              JSON}, then binary LINEAR16 chunks, then
//                              {"type": "end"}; answers {"response": ...}
//                              per response and {"status": {code, message}}
//   WS  /ws/jobs/{id}          one WatchJob call: first {"token",
//                              "after_sequence"}; answers {"event": ...} and
//                              {"status": ...}
//   GET /api/models            ListModels           (Authorization: Bearer forwarded)
//   GET /api/jobs              ListJobs
//   GET /api/jobs/{id}/checkpoints  ListCheckpoints
//   POST /api/jobs/{id}/publish     PublishModel, body {"name", "step"}
//   GET /healthz               the gateway runs;  GET /readyz: asr-server answers
// JSON is proto3's mapping with the .proto's field names. gRPC errors
// become HTTP statuses (400, 401, 404, 409, 429, 503, 504, 500) with a body
// {"code": "NOT_FOUND", "message": ...}. It holds no state of its own: any
// number of gateways can stand in front of any replica. Tokens travel in
// the first WebSocket message, never in a URL (logs keep URLs). Same-origin
// by default: a browser request whose Origin is not the gateway's own (nor
// allowed) is refused with 403 on /ws and /api; every response carries a
// Content-Security-Policy that allows only the gateway's own files (no
// inline script or style). A socket message that breaks the protocol ends
// the session with its {"status"} and a close frame 1008 giving the reason.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::web {

struct GatewayOptions {
  std::string listen = "127.0.0.1:8080";   // host:port; port 0 = any free port
  std::string server = "127.0.0.1:50051";  // asr-server (or a balancer in front of replicas)
  std::string tls_ca;                      // PEM root for TLS to asr-server; empty = plaintext
  int threads = 2;                         // HTTP/WebSocket I/O threads
  int max_sessions = 64;                   // concurrent WebSockets (each holds two threads)
  double unary_timeout_seconds = 30;       // deadline of each /api call
  // Origins ("https://app.example:8443") besides the gateway's own whose
  // pages may open its sockets and call /api; others get 403.
  std::vector<std::string> allowed_origins;
};

class Gateway {
 public:
  // Binds and starts serving; errors name the address.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(const GatewayOptions& options);
  ~Gateway();
  int port() const;
  // Stops accepting, cancels the open calls and waits for the I/O threads.
  void Shutdown();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::web
