#include "server/web/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asr/v1/recognition.grpc.pb.h"
#include "asr/v1/training.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "server/web/static_files.h"

namespace asr::web {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr size_t kMaxRequestBodyBytes = 64 << 10;
constexpr size_t kMaxWsMessageBytes = 1 << 20;
constexpr size_t kMaxQueuedChunks = 64;  // audio chunks waiting for gRPC; reading stops beyond
constexpr size_t kMaxOutbox = 512;       // messages waiting for a browser that does not read

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND: gRPC's codes are absl's.
std::string CodeName(grpc::StatusCode code) {
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

http::status HttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return http::status::ok;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return http::status::bad_request;
    case grpc::StatusCode::UNAUTHENTICATED:
      return http::status::unauthorized;
    case grpc::StatusCode::PERMISSION_DENIED:
      return http::status::forbidden;
    case grpc::StatusCode::NOT_FOUND:
      return http::status::not_found;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return http::status::conflict;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return http::status::too_many_requests;
    case grpc::StatusCode::UNAVAILABLE:
      return http::status::service_unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return http::status::gateway_timeout;
    default:
      return http::status::internal_server_error;
  }
}

std::string StatusJson(const grpc::Status& st) {
  return nlohmann::json{{"code", CodeName(st.error_code())}, {"message", st.error_message()}}.dump();
}

// {"status": {"code", "message"}}: the last message of a WebSocket session.
std::string SocketStatusJson(const grpc::Status& st) {
  return nlohmann::json{{"status", nlohmann::json::parse(StatusJson(st))}}.dump();
}

// The token of "Bearer X" (or of a bare value), for the gRPC metadata.
std::string BearerToken(beast::string_view header) {
  std::string h(header);
  if (absl::StartsWithIgnoreCase(h, "bearer ")) h = h.substr(7);
  return h;
}

}  // namespace

// ---- the gRPC side: stubs shared by every session --------------------------

struct Backend {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<asr::v1::RecognitionService::Stub> recognition;
  std::unique_ptr<asr::v1::TrainingService::Stub> training;
  double unary_timeout_seconds = 30;

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token, bool deadline) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    if (deadline) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(unary_timeout_seconds * 1000)));
    }
    return ctx;
  }
};

// ---- WebSocket sessions ---------------------------------------------------

class WsSession;

// The open WebSocket sessions, so that shutdown can cancel their calls and
// wait for them. Thread-safe.
struct SessionRegistry {
  std::mutex mu;
  std::condition_variable gone;
  std::vector<std::weak_ptr<WsSession>> sessions;  // guarded by mu; expired ones pruned on Add
  int count = 0;                                   // guarded by mu: sessions alive

  // Reserves a place; false when `max` are open.
  bool Reserve(int max) {
    std::lock_guard<std::mutex> lock(mu);
    if (count >= max) return false;
    ++count;
    return true;
  }
  void Add(const std::shared_ptr<WsSession>& s) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(
        std::remove_if(sessions.begin(), sessions.end(), [](const auto& w) { return w.expired(); }),
        sessions.end());
    sessions.push_back(s);
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    --count;
    gone.notify_all();
  }
  std::vector<std::shared_ptr<WsSession>> Live() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::shared_ptr<WsSession>> live;
    for (const auto& w : sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    return live;
  }
  // Waits until every session has ended or `timeout` passed.
  void WaitAllGone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    gone.wait_for(lock, timeout, [&] { return count == 0; });
  }
};

// Owns one browser WebSocket and one gRPC call. Beast's stream is used on
// its strand only; the gRPC call's threads reach it through Send() and
// Finish(), which post to the strand. Kept alive by shared_ptr until the
// socket and the call's threads are done with it.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // Takes one place reserved in `sessions` and gives it back when destroyed.
  WsSession(tcp::socket&& socket, std::shared_ptr<const Backend> backend, SessionRegistry* sessions)
      : ws_(std::move(socket)), backend_(std::move(backend)), sessions_(sessions) {}
  virtual ~WsSession() { sessions_->Release(); }

  void Start(Request req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(kMaxWsMessageBytes);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->ReadNext();
    });
  }

  // Thread-safe: queues a text message for the browser.
  void Send(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      if (self->closed_) return;
      if (self->outbox_.size() >= kMaxOutbox) {  // the browser stopped reading
        self->Cancel();
        return;
      }
      self->outbox_.push_back(std::move(text));
      if (!self->writing_) self->WriteNext();
    });
  }
  // Thread-safe: ends the gRPC call (the browser went away or misbehaved,
  // or the gateway shuts down); the session then finishes as the call does.
  virtual void Cancel() = 0;
  // Thread-safe: the call is over; sends {"status"} after what is queued,
  // then closes with `close` (normal unless the browser broke the protocol).
  void Finish(const grpc::Status& st, websocket::close_reason close = websocket::close_code::normal) {
    Send(SocketStatusJson(st));
    net::post(ws_.get_executor(), [self = shared_from_this(), close = std::move(close)] {
      self->closing_ = true;
      self->close_ = close;
      if (!self->writing_) self->Close();
    });
  }

 protected:
  // On the strand: one message from the browser.
  virtual void OnMessage(std::string data, bool binary) = 0;

  void ReadNext() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closed_ = true;
        self->Cancel();
        return;
      }
      std::string data = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      self->OnMessage(std::move(data), self->ws_.got_binary());
    });
  }
  // Thread-safe: read the next message (after OnMessage chose not to).
  void Resume() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (!self->closed_) self->ReadNext();
    });
  }
  // On the strand: a protocol error of the browser's: report it in the
  // status and in the close frame (1008, the reason cut to the 123 bytes a
  // close frame holds), then close.
  void Reject(const std::string& message) {
    websocket::close_reason close(websocket::close_code::policy_error);
    close.reason = message.substr(0, 123);
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message), close);
  }
  const Backend& backend() const { return *backend_; }

 private:
  void WriteNext() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->outbox_.pop_front();
      if (ec) {
        self->closed_ = true;
        self->writing_ = false;
        self->Cancel();
        return;
      }
      if (!self->outbox_.empty()) return self->WriteNext();
      self->writing_ = false;
      if (self->closing_) self->Close();
    });
  }
  void Close() {
    if (closed_) return;
    closed_ = true;
    ws_.async_close(close_, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::shared_ptr<const Backend> backend_;
  SessionRegistry* sessions_;
  std::deque<std::string> outbox_;  // strand only
  bool writing_ = false, closing_ = false, closed_ = false;
  websocket::close_reason close_{websocket::close_code::normal};  // strand only
};

// WS /ws/recognize: one StreamingRecognize call. A writer thread feeds it
// the browser's chunks from a bounded queue (the socket is not read while
// the queue is full, so TCP slows the browser as gRPC flow control slows
// us); a reader thread forwards its responses.
class RecognizeSession : public WsSession {
 public:
  using WsSession::WsSession;

 protected:
  void OnMessage(std::string data, bool binary) override {
    if (!started_) {
      if (binary) return Reject("the first message must be the JSON config, {\"token\", \"config\"}");
      const nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) return Reject("first message: not a JSON object");
      asr::v1::StreamingRecognizeRequest first;
      google::protobuf::util::JsonParseOptions o;
      const auto st = google::protobuf::util::JsonStringToMessage(
          j.value("config", nlohmann::json::object()).dump(), first.mutable_config(), o);
      if (!st.ok()) return Reject(absl::StrCat("config: ", st.message().as_string()));
      started_ = true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;  // cancelled (shutdown) before it began
        ctx_ = backend().Context(j.value("token", ""), /*deadline=*/false);
      }
      call_ = backend().recognition->StreamingRecognize(ctx_.get());
      Push(Item{first.SerializeAsString(), false});
      auto self = std::static_pointer_cast<RecognizeSession>(shared_from_this());
      writer_ = std::thread([self] { self->WriteLoop(); });
      std::thread([self] { self->ReadLoop(); }).detach();  // joins the writer
      return ReadNext();
    }
    // While Push() says the queue is full, the writer resumes reading.
    if (binary) {
      asr::v1::StreamingRecognizeRequest req;
      req.set_audio(std::move(data));
      if (Push(Item{req.SerializeAsString(), false})) ReadNext();
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_object() && j.value("type", "") == "end") {
      if (Push(Item{"", true})) ReadNext();  // reading on shows when the browser leaves
      return;
    }
    Reject("after the config: binary audio chunks, then {\"type\": \"end\"}");
    Cancel();
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    if (ctx_) ctx_->TryCancel();
    cv_.notify_all();
  }

 private:
  struct Item {
    std::string request;  // a serialized StreamingRecognizeRequest
    bool end = false;     // WritesDone
  };
  // Returns false when the queue is full: stop reading until the writer drains it.
  bool Push(Item item) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(item));
    cv_.notify_all();
    paused_ = queue_.size() >= kMaxQueuedChunks;
    return !paused_;
  }
  void WriteLoop() {
    for (;;) {
      Item item;
      bool resume = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
        if (stopped_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        if (paused_ && queue_.size() <= kMaxQueuedChunks / 2) {
          paused_ = false;
          resume = true;
        }
      }
      if (resume) Resume();
      if (item.end) {
        call_->WritesDone();
        return;
      }
      asr::v1::StreamingRecognizeRequest req;
      req.ParseFromString(item.request);
      if (!call_->Write(req)) return;  // the call has ended; the reader reports why
    }
  }
  void ReadLoop() {
    asr::v1::StreamingRecognizeResponse resp;
    while (call_->Read(&resp)) Send(absl::StrCat("{\"response\":", ToJson(resp), "}"));
    {
      // The server has ended the call: the writer stops waiting for the
      // browser (a Write in progress fails by itself).
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      cv_.notify_all();
    }
    writer_.join();
    Finish(call_->Finish());
  }

  bool started_ = false;                      // strand only
  std::unique_ptr<grpc::ClientContext> ctx_;  // set once under mu_
  std::unique_ptr<
      grpc::ClientReaderWriter<asr::v1::StreamingRecognizeRequest, asr::v1::StreamingRecognizeResponse>>
      call_;
  std::thread writer_;  // joined by the reader thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool paused_ = false;     // guarded by mu_: the socket is not being read
  bool stopped_ = false;    // guarded by mu_: the writer ends
};

// WS /ws/jobs/{id}: one WatchJob call, its events forwarded as they come.
class WatchSession : public WsSession {
 public:
  WatchSession(tcp::socket&& socket, std::shared_ptr<const Backend> backend, SessionRegistry* sessions,
               std::string job_id)
      : WsSession(std::move(socket), std::move(backend), sessions), job_id_(std::move(job_id)) {}

 protected:
  void OnMessage(std::string data, bool binary) override {
    if (started_) return ReadNext();  // nothing more is expected; keep reading to see the close
    const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
    if (binary || !j.is_object()) return Reject("the first message must be {\"token\", \"after_sequence\"}");
    started_ = true;
    asr::v1::WatchJobRequest req;
    req.set_job_id(job_id_);
    req.set_after_sequence(j.value("after_sequence", int64_t{0}));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ctx_ = backend().Context(j.value("token", ""), /*deadline=*/false);
      if (cancelled_) ctx_->TryCancel();
    }
    auto self = std::static_pointer_cast<WatchSession>(shared_from_this());
    std::thread([self, req] {
      auto reader = self->backend().training->WatchJob(self->ctx_.get(), req);
      asr::v1::JobEvent e;
      while (reader->Read(&e)) self->Send(absl::StrCat("{\"event\":", ToJson(e), "}"));
      self->Finish(reader->Finish());
    }).detach();
    ReadNext();
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (ctx_) ctx_->TryCancel();
  }

 private:
  std::string job_id_;
  bool started_ = false;
  std::mutex mu_;
  std::unique_ptr<grpc::ClientContext> ctx_;  // set once under mu_
  bool cancelled_ = false;
};

// ---- HTTP ----------------------------------------------------------------

namespace {

Response Reply(const Request& req, http::status status, std::string body, const std::string& type) {
  Response res{status, req.version()};
  res.set(http::field::server, "asr-web");
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  // The pages load only their own files: no inline script or style, no
  // other origin, not framed.
  res.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  res.set("Referrer-Policy", "no-referrer");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response ErrorReply(const Request& req, const grpc::Status& st) {
  return Reply(req, HttpStatus(st.error_code()), StatusJson(st), "application/json");
}

template <class Message>
Response JsonReply(const Request& req, const grpc::Status& st, const Message& m) {
  return st.ok() ? Reply(req, http::status::ok, ToJson(m), "application/json") : ErrorReply(req, st);
}

// /api/... : a blocking gRPC call (run on the gateway's call pool).
Response HandleApi(const Backend& b, const Request& req) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());  // "api", ...
  const std::string token = BearerToken(req[http::field::authorization]);
  auto ctx = b.Context(token, /*deadline=*/true);
  const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
  if (get && parts.size() == 2 && parts[1] == "models") {
    asr::v1::ListModelsResponse resp;
    return JsonReply(req, b.recognition->ListModels(ctx.get(), asr::v1::ListModelsRequest(), &resp), resp);
  }
  if (get && parts.size() == 2 && parts[1] == "jobs") {
    asr::v1::ListJobsRequest r;
    r.set_page_size(100);
    asr::v1::ListJobsResponse resp;
    return JsonReply(req, b.training->ListJobs(ctx.get(), r, &resp), resp);
  }
  if (get && parts.size() == 4 && parts[1] == "jobs" && parts[3] == "checkpoints") {
    asr::v1::ListCheckpointsRequest r;
    r.set_job_id(parts[2]);
    asr::v1::ListCheckpointsResponse resp;
    return JsonReply(req, b.training->ListCheckpoints(ctx.get(), r, &resp), resp);
  }
  if (post && parts.size() == 4 && parts[1] == "jobs" && parts[3] == "publish") {
    const nlohmann::json j = nlohmann::json::parse(req.body(), nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
      return ErrorReply(
          req, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "body: {\"name\", \"step\"} expected"));
    }
    asr::v1::PublishModelRequest r;
    r.set_job_id(parts[2]);
    r.set_name(j["name"].get<std::string>());
    if (j.contains("step") && j["step"].is_number_integer()) r.set_step(j["step"].get<int64_t>());
    asr::v1::ModelVersion resp;
    return JsonReply(req, b.training->PublishModel(ctx.get(), r, &resp), resp);
  }
  return ErrorReply(req, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                      absl::StrCat("no API ", req.method_string().to_string(), " ", path)));
}

// The Origin of a browser's request when it is neither this gateway's own
// (the Host it was asked for) nor listed in `allowed`; nullopt otherwise.
// Browsers name the page's origin on every WebSocket handshake and every
// cross-origin request; programs that are not browsers send none.
std::optional<std::string> ForeignOrigin(const Request& req, const std::vector<std::string>& allowed) {
  const std::string origin(req[http::field::origin]);
  if (origin.empty()) return std::nullopt;
  const std::string host(req[http::field::host]);
  if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return std::nullopt;
  return origin;
}

}  // namespace

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `options` outlives the session (the gateway's).
  HttpSession(tcp::socket&& socket, std::shared_ptr<const Backend> backend, net::thread_pool* calls,
              SessionRegistry* sessions, const GatewayOptions* options)
      : stream_(std::move(socket)),
        backend_(std::move(backend)),
        calls_(calls),
        sessions_(sessions),
        options_(options) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (ec == http::error::body_limit) {
          Response res = Reply(self->parser_->get(), http::status::payload_too_large,
                               "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"request body over 64 KiB\"}",
                               "application/json");
          res.keep_alive(false);
          return self->Send(std::move(res));
        }
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Handle(self->parser_->release());
    });
  }

  void Handle(Request req) {
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req) || absl::StartsWith(path, "/api/")) {
      if (auto foreign = ForeignOrigin(req, options_->allowed_origins)) {
        Response res =
            Reply(req, http::status::forbidden,
                  StatusJson(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                          absl::StrCat("a page of ", *foreign, " may not use this gateway ",
                                                       "(asr-web --allow-origin admits an origin)"))),
                  "application/json");
        res.keep_alive(false);
        return Send(std::move(res));
      }
    }
    if (websocket::is_upgrade(req)) return Upgrade(std::move(req), path);
    if (absl::StartsWith(path, "/api/")) {
      auto self = shared_from_this();
      net::post(*calls_, [self, req = std::move(req)] {
        Response res = HandleApi(*self->backend_, req);
        net::post(self->stream_.get_executor(),
                  [self, res = std::move(res)]() mutable { self->Send(std::move(res)); });
      });
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return Send(Reply(req, http::status::method_not_allowed, "", "text/plain"));
    }
    if (path == "/healthz") return Send(Reply(req, http::status::ok, "ok\n", "text/plain"));
    if (path == "/readyz") {
      const bool up = backend_->channel->WaitForConnected(std::chrono::system_clock::now() +
                                                          std::chrono::milliseconds(500));
      return Send(Reply(req, up ? http::status::ok : http::status::service_unavailable,
                        up ? "ok\n" : "asr-server unreachable\n", "text/plain"));
    }
    if (const StaticFile* f = FindStaticFile(path == "/" ? "/index.html" : path)) {
      return Send(Reply(req, http::status::ok, std::string(f->content), f->content_type));
    }
    Send(Reply(req, http::status::not_found, "not found\n", "text/plain"));
  }

  void Upgrade(Request req, const std::string& path) {
    std::shared_ptr<WsSession> session;
    const std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
    const bool recognize = path == "/ws/recognize";
    const bool watch = parts.size() == 3 && parts[0] == "ws" && parts[1] == "jobs";
    if (!recognize && !watch)
      return Send(Reply(req, http::status::not_found, "no such socket\n", "text/plain"));
    if (!sessions_->Reserve(options_->max_sessions)) return RefuseSocket(std::move(req));
    stream_.expires_never();  // the WebSocket's own timeouts apply from here
    if (recognize) {
      session = std::make_shared<RecognizeSession>(stream_.release_socket(), backend_, sessions_);
    } else {
      session = std::make_shared<WatchSession>(stream_.release_socket(), backend_, sessions_, parts[2]);
    }
    sessions_->Add(session);
    session->Start(std::move(req));
  }

  // A WebSocket beyond --max-sessions: accepted only to say so, since a
  // browser cannot read the body of a refused handshake, then closed
  // "try again later" (1013). Holds no session place.
  void RefuseSocket(Request req) {
    stream_.expires_after(std::chrono::seconds(10));
    auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(std::move(stream_));
    const grpc::Status full(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the gateway's WebSocket sessions are all in use (asr-web --max-sessions)");
    auto text = std::make_shared<std::string>(SocketStatusJson(full));
    ws->async_accept(req, [ws, text](beast::error_code ec) {
      if (ec) return;
      ws->text(true);
      ws->async_write(net::buffer(*text), [ws, text](beast::error_code ec, size_t) {
        if (ec) return;
        ws->async_close(websocket::close_code::try_again_later, [ws](beast::error_code) {});
      });
    });
  }

  void Send(Response res) {
    auto sp = std::make_shared<Response>(std::move(res));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
      if (ec) return;
      if (!sp->keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<const Backend> backend_;
  net::thread_pool* calls_;
  SessionRegistry* sessions_;
  const GatewayOptions* options_;
};

// ---- the server -----------------------------------------------------------

struct Gateway::Impl {
  GatewayOptions options;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::thread_pool calls{4};  // blocking /api gRPC calls
  std::shared_ptr<const Backend> backend;
  SessionRegistry sessions;
  std::vector<std::thread> threads;

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        std::make_shared<HttpSession>(std::move(socket), backend, &calls, &sessions, &options)->Start();
      }
      Accept();
    });
  }
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(const GatewayOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    std::ifstream in(options.tls_ca);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--tls-ca: cannot read ", options.tls_ca));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(in), {});
    creds = grpc::SslCredentials(ssl);
  }
  auto backend = std::make_shared<Backend>();
  backend->channel = grpc::CreateChannel(options.server, creds);
  backend->recognition = asr::v1::RecognitionService::NewStub(backend->channel);
  backend->training = asr::v1::TrainingService::NewStub(backend->channel);
  backend->unary_timeout_seconds = options.unary_timeout_seconds;
  impl->backend = std::move(backend);

  const size_t colon = options.listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: '", options.listen, "' is not HOST:PORT"));
  }
  std::string host = options.listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--listen: '", host, "' is not an IP address"));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("--listen ", options.listen, ": ", ec.message()));
  impl->Accept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->threads.emplace_back([io = &impl->ioc] { io->run(); });
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

int Gateway::port() const { return impl_->acceptor.local_endpoint().port(); }

void Gateway::Shutdown() {
  if (!impl_ || impl_->threads.empty()) return;
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // Open calls end (CANCELLED reaches each browser) before the I/O stops.
  for (const auto& session : impl_->sessions.Live()) session->Cancel();
  impl_->sessions.WaitAllGone(std::chrono::seconds(5));
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->calls.join();
}

}  // namespace asr::web
