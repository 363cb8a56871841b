#include "server/recognition_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "model/recognizer/recognizer.h"
#include "server/grpc_status.h"
#include "server/recognition_convert.h"

namespace asr::server {

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

RecognitionService::RecognitionService(ModelRegistry* models, StreamBatcher* batcher,
                                       RecognitionMetrics* metrics, const Authenticator* auth,
                                       const RecognitionServiceOptions& options, StreamLimits limits)
    : models_(models),
      metrics_(metrics),
      auth_(auth),
      admission_(options.max_streams, options.stream_idle_timeout_seconds),
      stream_services_{auth, &admission_, models, batcher, metrics, limits},
      pool_(options.recognize_workers) {}

grpc::ServerBidiReactor<asr::v1::StreamingRecognizeRequest, asr::v1::StreamingRecognizeResponse>*
RecognitionService::StreamingRecognize(grpc::CallbackServerContext* ctx) {
  return new StreamReactor(ctx, stream_services_);
}

absl::StatusOr<asr::v1::RecognizeResponse> RecognitionService::RunRecognize(
    const asr::v1::RecognizeRequest& req) {
  auto c = ResolveConfig(req.config(), models_, /*stream=*/false);
  if (!c.ok()) return c.status();
  auto result = asr::Recognize(*c->model, req.audio(), c->options.audio, c->options.decoding,
                               kMaxRecognizeSeconds, c->options.endpoint);
  if (absl::IsOutOfRange(result.status())) {
    return absl::OutOfRangeError(absl::StrCat(result.status().message(), "; Recognize takes at most ",
                                              kMaxRecognizeSeconds,
                                              " s of audio: stream longer recordings (StreamingRecognize)"));
  }
  if (!result.ok()) return result.status();
  return ToResponse(*result, req.config(), c->model->label);
}

grpc::ServerUnaryReactor* RecognitionService::Recognize(grpc::CallbackServerContext* ctx,
                                                        const asr::v1::RecognizeRequest* req,
                                                        asr::v1::RecognizeResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  const auto received = std::chrono::steady_clock::now();
  const auto seconds = [received] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count();
  };
  if (grpc::Status st = auth_->Check(ctx); !st.ok()) {
    metrics_->RecognizeFinished("UNAUTHENTICATED", seconds());
    reactor->Finish(st);
    return reactor;
  }
  pool_.Submit([this, ctx, req, resp, reactor, seconds] {
    if (ctx->IsCancelled()) {
      metrics_->RecognizeFinished("CANCELLED", seconds());
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    auto r = RunRecognize(*req);
    if (r.ok()) {
      *resp = std::move(*r);
      metrics_->AudioProcessed(resp->audio_seconds());
    }
    const grpc::Status st = ToGrpc(r.status());
    metrics_->RecognizeFinished(st.ok() ? "OK" : absl::StatusCodeToString(r.status().code()), seconds());
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
