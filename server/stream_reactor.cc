#include "server/stream_reactor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/recognition_convert.h"

namespace asr::server {
namespace {

// A response carrying only an interim (non-final) result.
bool IsInterim(const asr::v1::StreamingRecognizeResponse& r) {
  return r.results_size() == 1 && !r.results(0).is_final();
}

std::string CodeName(grpc::StatusCode c) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  const int i = static_cast<int>(c);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

}  // namespace

StreamReactor::StreamReactor(grpc::CallbackServerContext* ctx, const StreamServices& services)
    : ctx_(ctx), services_(services) {
  Touch();
  if (grpc::Status st = services_.auth->Check(ctx_); !st.ok()) {
    FinishOnce(st);
    return;
  }
  if (!services_.admission->Admit(this)) {
    FinishOnce(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many concurrent streams (max ", services_.admission->max_streams(), ")")));
    return;
  }
  admitted_ = true;
  services_.metrics->StreamStarted();
  StartRead(&req_);
}

absl::Status StreamReactor::Start(const asr::v1::RecognitionConfig& config) {
  auto resolved = ResolveConfig(config, services_.models, /*stream=*/true);
  if (!resolved.ok()) return resolved.status();
  auto stream =
      RecognitionStream::Create(resolved->model, resolved->options, services_.limits, services_.metrics);
  if (!stream.ok()) return ConfigError(stream.status());
  config_ = config;
  stream_ = std::move(*stream);
  services_.batcher->Add(stream_.get(), this);
  std::lock_guard<std::mutex> lock(mu_);
  decoding_ = stream_.get();
  return absl::OkStatus();
}

void StreamReactor::OnReadDone(bool ok) {
  Touch();
  if (!ok) {                          // the client finished sending, or the call was cancelled
    if (ctx_->IsCancelled()) return;  // OnCancel finishes it (CANCELLED), not the end of input
    if (!stream_) return Fail(absl::InvalidArgumentError("the stream ended before a config message"));
    if (absl::Status st = stream_->InputFinished(); !st.ok()) Fail(st);
    return;  // the final result finishes the call
  }
  if (!stream_) {
    if (!req_.has_config()) {
      return Fail(
          absl::InvalidArgumentError("the first message must carry the config (got audio before config)"));
    }
    if (absl::Status st = Start(req_.config()); !st.ok()) return Fail(st);
  } else {
    if (req_.has_config())
      return Fail(absl::InvalidArgumentError("a second config message; only audio may follow"));
    if (absl::Status st = stream_->AcceptAudio(req_.audio()); !st.ok()) return Fail(st);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  // Backpressure: with too much audio undecoded, read no more (gRPC's flow
  // control then holds the sender) until OnResults sees the backlog drain.
  if (stream_->Backlogged()) {
    read_paused_ = true;
    return;
  }
  StartRead(&req_);
}

void StreamReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (!ok) {  // the client went away, or Expire() cancelled the call
    queue_.clear();
    FinishLocked(pending_finish_.value_or(grpc::Status(grpc::StatusCode::CANCELLED, "client went away")));
    return;
  }
  last_activity_ = std::chrono::steady_clock::now();  // the client read a response
  queue_.pop_front();
  WriteNextLocked();
}

void StreamReactor::OnCancel() {
  StopDecoding();  // frees the stream's place in the batcher now
  std::lock_guard<std::mutex> lock(mu_);
  FinishAfterWriteLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"),
                         /*drop_unwritten=*/true);
}

void StreamReactor::OnDone() {
  {
    std::lock_guard<std::recursive_mutex> lock(call_mu_);
    call_done_ = true;
  }
  // Release first: once it returns the reaper no longer sees this stream.
  if (admitted_) {
    services_.admission->Release(this);
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) services_.metrics->StreamFinished(CodeName(grpc::StatusCode::CANCELLED));
  }
  StopDecoding();
  stream_.reset();
  Unref();
}

void StreamReactor::Ref() {
  std::lock_guard<std::mutex> lock(mu_);
  ++refs_;
}

void StreamReactor::Unref() {
  bool last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = --refs_ == 0;
  }
  if (last) delete this;
}

void StreamReactor::OnResults(std::vector<RecognitionResult> results, bool finished) {
  Touch();  // the server made progress
  for (const RecognitionResult& r : results) Enqueue(ToResponse(r, config_, stream_->model().label));
  std::lock_guard<std::mutex> lock(mu_);
  // Checked under mu_, as OnReadDone pauses: every decode after a pause
  // comes here, so the read resumes once the backlog has halved.
  if (read_paused_ && !finished_ && !stream_->Backlogged(0.5)) {
    read_paused_ = false;
    StartRead(&req_);
  }
  if (!finished) return;
  FinishAfterWriteLocked(grpc::Status::OK, /*drop_unwritten=*/false);
}

void StreamReactor::OnError(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  FinishAfterWriteLocked(ToGrpc(status), /*drop_unwritten=*/true);
}

std::chrono::steady_clock::time_point StreamReactor::last_activity() {
  RecognitionStream* decoding;
  std::chrono::steady_clock::time_point last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    decoding = decoding_;
    last = last_activity_;
  }
  // Audio still to decode: the server is the one working, the stream is
  // not idle (the client may have sent everything and be waiting). The
  // stream outlives this call: the reaper calls it while the stream is
  // admitted, and OnDone releases the admission before freeing it.
  if (decoding != nullptr && decoding->PendingInputs() > 0) return std::chrono::steady_clock::now();
  return last;
}

void StreamReactor::Expire() {
  const auto now = std::chrono::steady_clock::now();
  const double idle = services_.admission->idle_timeout_seconds();
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!expired_at_) {
      first = true;
      expired_at_ = now;
    } else if (std::chrono::duration<double>(now - *expired_at_).count() <
               std::min(kWriteDeadlineSeconds, idle)) {
      return;  // the status may still get through
    }
  }
  if (first) {
    Fail(absl::DeadlineExceededError(absl::StrCat("no message either way for ", idle, " s; stream closed")));
    return;
  }
  std::lock_guard<std::recursive_mutex> lock(call_mu_);
  if (!call_done_ && !std::exchange(cancel_sent_, true)) ctx_->TryCancel();
}

void StreamReactor::Touch() {
  std::lock_guard<std::mutex> lock(mu_);
  last_activity_ = std::chrono::steady_clock::now();
}

void StreamReactor::StopDecoding() {
  RecognitionStream* s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = std::exchange(decoding_, nullptr);
  }
  if (s) services_.batcher->Remove(s);
}

void StreamReactor::Fail(const absl::Status& status) {
  StopDecoding();
  std::lock_guard<std::mutex> lock(mu_);
  FinishAfterWriteLocked(ToGrpc(status), /*drop_unwritten=*/true);
}

void StreamReactor::FinishAfterWriteLocked(const grpc::Status& status, bool drop_unwritten) {
  if (finished_ || pending_finish_) return;  // the first way the call ends wins
  // The response being written (front) must outlive its write.
  if (drop_unwritten) queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
  if (writing_ || !queue_.empty()) {
    pending_finish_ = status;
  } else {
    FinishLocked(status);
  }
}

void StreamReactor::Enqueue(Response r) {
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

void StreamReactor::WriteNextLocked() {
  if (writing_ || finished_) return;
  if (!queue_.empty()) {
    writing_ = true;
    StartWrite(&queue_.front());
  } else if (pending_finish_) {
    FinishLocked(*pending_finish_);
  }
}

void StreamReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  // Counted before the client can see the status: a client that scrapes
  // right after its call ended finds it.
  if (admitted_) services_.metrics->StreamFinished(CodeName(status.error_code()));
  Finish(status);
}

void StreamReactor::FinishOnce(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  FinishLocked(status);
}

}  // namespace asr::server
