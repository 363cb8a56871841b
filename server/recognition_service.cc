#include "server/recognition_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "features/pipeline.h"
#include "model/ctc.h"
#include "server/grpc_status.h"

namespace asr::server {

using Req = asr::v1::StreamingRecognizeRequest;
using Resp = asr::v1::StreamingRecognizeResponse;

namespace {
// A response carrying only an interim (non-final) result.
bool IsInterim(const Resp& r) { return r.results_size() == 1 && !r.results(0).is_final(); }
}  // namespace

TaskPool::TaskPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      while (true) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
          if (tasks_.empty()) return;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

// One StreamingRecognize call. Lifetime: created by gRPC, deleted in OnDone.
class StreamReactor : public grpc::ServerBidiReactor<Req, Resp> {
 public:
  StreamReactor(grpc::CallbackServerContext* ctx, RecognitionService* svc) : ctx_(ctx), svc_(svc) {
    Touch();
    if (grpc::Status st = svc_->auth()->Check(ctx); !st.ok()) {
      FinishOnce(st);
      return;
    }
    if (!svc_->Admit(this)) {
      FinishOnce(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("too many concurrent streams (max ", svc_->options().max_streams, ")")));
      return;
    }
    admitted_ = true;
    svc_->metrics()->StreamStarted();
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    Touch();
    if (!ok) {  // the client finished sending
      if (!session_) return Fail(absl::InvalidArgumentError("the stream ended before a config message"));
      if (absl::Status st = session_->InputDone(); !st.ok()) Fail(st);
      return;  // the session's done callback finishes the call
    }
    if (!session_) {
      if (!req_.has_config()) {
        return Fail(
            absl::InvalidArgumentError("the first message must carry the config (got audio before config)"));
      }
      auto s = RecognitionSession::Create(
          req_.config(), svc_->models(), svc_->scheduler(), svc_->options().limits,
          [this](Resp r) { Enqueue(std::move(r)); }, [this](absl::Status st) { SessionDone(st); },
          svc_->metrics());
      if (!s.ok()) return Fail(s.status());
      session_ = std::move(*s);
      std::lock_guard<std::mutex> lock(mu_);
      session_raw_ = session_.get();
    } else {
      if (req_.has_config())
        return Fail(absl::InvalidArgumentError("a second config message; only audio may follow"));
      if (absl::Status st = session_->AcceptAudio(req_.audio()); !st.ok()) return Fail(st);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      queue_.clear();
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    queue_.pop_front();
    WriteNextLocked();
  }

  void OnCancel() override {
    CancelSession();  // frees the stream's scheduler slot now
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();
    if (!writing_)
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
    else
      pending_finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  }

  void OnDone() override {
    // Release first: once it returns the reaper no longer sees this stream.
    if (admitted_) {
      svc_->Release(this);
      svc_->metrics()->StreamFinished(CodeName(final_code_));
    }
    CancelSession();
    session_.reset();
    delete this;
  }

  // Ends an idle stream (called by the reaper).
  void Expire() {
    Fail(absl::DeadlineExceededError(
        absl::StrCat("no message for ", svc_->options().idle_timeout_seconds, " s; stream closed")));
  }
  std::chrono::steady_clock::time_point last_activity() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_activity_;
  }

 private:
  static std::string CodeName(grpc::StatusCode c) {
    static const char* const kNames[] = {
        "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};
    const int i = static_cast<int>(c);
    return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
  }
  void Touch() {
    std::lock_guard<std::mutex> lock(mu_);
    last_activity_ = std::chrono::steady_clock::now();
  }
  // Cancel() waits for an in-flight scheduler callback, which may need mu_:
  // never call it with mu_ held.
  void CancelSession() {
    RecognitionSession* s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s = session_raw_;
    }
    if (s) s->Cancel();
  }
  void Fail(const absl::Status& st) {
    CancelSession();
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();
    if (writing_) {
      pending_finish_ = ToGrpc(st);
    } else {
      FinishLocked(ToGrpc(st));
    }
  }
  // Queues a response. An interim result replaces an interim still waiting
  // behind the write in flight, so a slow reader holds at most one interim
  // (plus the finals, which are never dropped).
  void Enqueue(Resp r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || pending_finish_) return;
    const size_t in_flight = writing_ ? 1 : 0;
    if (queue_.size() > in_flight && IsInterim(queue_.back()) && IsInterim(r)) {
      queue_.back() = std::move(r);
      return;
    }
    queue_.push_back(std::move(r));
    WriteNextLocked();
  }
  void SessionDone(const absl::Status& st) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (writing_ || !queue_.empty()) {
      pending_finish_ = ToGrpc(st);
    } else {
      FinishLocked(ToGrpc(st));
    }
  }
  void WriteNextLocked() {
    if (writing_ || finished_) return;
    if (!queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front());
    } else if (pending_finish_) {
      FinishLocked(*pending_finish_);
    }
  }
  void FinishLocked(const grpc::Status& st) {
    if (finished_) return;
    finished_ = true;
    final_code_ = st.error_code();
    Finish(st);
  }
  void FinishOnce(const grpc::Status& st) {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(st);
  }

  grpc::CallbackServerContext* ctx_;
  RecognitionService* svc_;
  Req req_;
  std::unique_ptr<RecognitionSession> session_;  // set on the read path only
  RecognitionSession* session_raw_ = nullptr;    // guarded by mu_; for other threads
  bool admitted_ = false;
  std::mutex mu_;
  std::deque<Resp> queue_;                      // guarded by mu_
  bool writing_ = false, finished_ = false;     // guarded by mu_
  std::optional<grpc::Status> pending_finish_;  // guarded by mu_
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
  std::chrono::steady_clock::time_point last_activity_;  // guarded by mu_
};

RecognitionService::RecognitionService(ModelRegistry* models, StreamScheduler* scheduler,
                                       RecognitionMetrics* metrics, const Authenticator* auth,
                                       RecognitionOptions options)
    : models_(models),
      scheduler_(scheduler),
      metrics_(metrics),
      auth_(auth),
      opts_(options),
      pool_(options.recognize_workers),
      reaper_([this] { Reap(); }) {}

RecognitionService::~RecognitionService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  reaper_cv_.notify_all();
  reaper_.join();
}

bool RecognitionService::Admit(StreamReactor* r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(streams_.size()) >= opts_.max_streams) return false;
  streams_.insert(r);
  return true;
}

void RecognitionService::Release(StreamReactor* r) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(r);
}

void RecognitionService::Reap() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    reaper_cv_.wait_for(lock, std::chrono::milliseconds(500));
    const auto now = std::chrono::steady_clock::now();
    for (StreamReactor* r : streams_) {
      if (std::chrono::duration<double>(now - r->last_activity()).count() > opts_.idle_timeout_seconds)
        r->Expire();
    }
  }
}

grpc::ServerBidiReactor<Req, Resp>* RecognitionService::StreamingRecognize(grpc::CallbackServerContext* ctx) {
  return new StreamReactor(ctx, this);
}

namespace {

absl::StatusOr<asr::v1::RecognizeResponse> RunRecognize(const asr::v1::RecognizeRequest& req,
                                                        ModelRegistry* models,
                                                        const RecognitionOptions& opts) {
  const asr::v1::RecognitionConfig& c = req.config();
  if (c.model().empty()) return absl::InvalidArgumentError("config.model: required");
  auto model = models->Get(c.model(), c.model_version());
  if (!model.ok())
    return absl::InvalidArgumentError(absl::StrCat("config.model: ", model.status().message()));
  if (c.max_alternatives() < 0 || c.max_alternatives() > 10) {
    return absl::InvalidArgumentError("config.max_alternatives: not in [0, 10]");
  }
  DecodeOptions dec;
  dec.max_seconds = opts.max_recognize_seconds;
  absl::StatusOr<Audio> audio;
  if (c.encoding() == asr::v1::LINEAR16 || c.encoding() == asr::v1::FLOAT32) {
    RawFormat raw;
    raw.encoding = c.encoding() == asr::v1::LINEAR16 ? RawEncoding::kS16le : RawEncoding::kF32le;
    raw.sample_rate = c.sample_rate_hertz();
    raw.channels = std::max(1, c.audio_channel_count());
    audio = DecodeRawPcm(req.audio().data(), req.audio().size(), raw, "audio", dec);
  } else {
    audio = DecodeAudioBuffer(req.audio().data(), req.audio().size(), "audio", dec);
  }
  if (!audio.ok()) return audio.status();
  AcousticModel& m = const_cast<AcousticModel&>((*model)->model);
  auto feats = ExtractFeatures(*audio, m->config().features);
  if (!feats.ok()) return feats.status();
  asr::v1::RecognizeResponse resp;
  resp.set_request_id(c.request_id());
  resp.set_model(absl::StrCat((*model)->version.name(), ":", (*model)->version.version()));
  resp.set_audio_seconds(audio->duration_seconds());
  if (feats->rows == 0) return resp;
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::from_blob(feats->data.data(), {1, feats->rows, feats->cols}).clone();
  const AcousticOutput out = m->forward(x, torch::tensor({feats->rows}));
  const int n = std::max(1, c.max_alternatives());
  auto decoding = DecoderOptionsFor(c, **model);
  if (!decoding.ok()) return decoding.status();
  CtcDecoder d(m->vocabulary(), *decoding);
  const torch::Tensor lp = out.log_probs.select(1, 0).contiguous();
  d.Accept(lp.data_ptr<float>(), lp.size(0));
  for (const Transcript& t : d.NBest(n)) {
    asr::v1::SpeechRecognitionAlternative* alt = resp.add_alternatives();
    alt->set_transcript(t.text);
    alt->set_confidence(t.confidence);
    if (!c.enable_word_time_offsets()) continue;
    for (const WordTiming& w : t.words) {
      asr::v1::WordInfo* wi = alt->add_words();
      wi->set_word(w.word);
      *wi->mutable_start_time() = google::protobuf::util::TimeUtil::NanosecondsToDuration(
          static_cast<int64_t>(w.start_seconds * 1e9));
      *wi->mutable_end_time() =
          google::protobuf::util::TimeUtil::NanosecondsToDuration(static_cast<int64_t>(w.end_seconds * 1e9));
      wi->set_confidence(w.confidence);
    }
  }
  return resp;
}

}  // namespace

grpc::ServerUnaryReactor* RecognitionService::Recognize(grpc::CallbackServerContext* ctx,
                                                        const asr::v1::RecognizeRequest* req,
                                                        asr::v1::RecognizeResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (grpc::Status st = auth_->Check(ctx); !st.ok()) {
    metrics_->RecognizeFinished("UNAUTHENTICATED");
    reactor->Finish(st);
    return reactor;
  }
  pool_.Submit([this, ctx, req, resp, reactor] {
    if (ctx->IsCancelled()) {
      metrics_->RecognizeFinished("CANCELLED");
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    auto r = RunRecognize(*req, models_, opts_);
    if (r.ok()) {
      *resp = std::move(*r);
      metrics_->AudioProcessed(resp->audio_seconds());
    }
    const grpc::Status st = ToGrpc(r.status());
    metrics_->RecognizeFinished(st.ok() ? "OK" : absl::StatusCodeToString(r.status().code()));
    reactor->Finish(st);
  });
  return reactor;
}

grpc::ServerUnaryReactor* RecognitionService::ListModels(grpc::CallbackServerContext* ctx,
                                                         const asr::v1::ListModelsRequest* req,
                                                         asr::v1::ListModelsResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status st = auth_->Check(ctx);
  if (st.ok()) {
    auto m = models_->List(req->name());
    st = ToGrpc(m.status());
    if (m.ok()) {
      for (auto& x : *m) *resp->add_models() = std::move(x);
    }
  }
  reactor->Finish(st);
  return reactor;
}

}  // namespace asr::server
