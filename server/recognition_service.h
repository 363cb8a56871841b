// asr.v1.RecognitionService over the gRPC callback API. StreamingRecognize
// is a bidirectional reactor per stream (no thread per stream): reads feed
// a RecognitionSession, whose results are written one at a time. Admission
// control (max concurrent streams), an idle-stream reaper, and Recognize on
// a small worker pool so model runs never block gRPC's threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "asr/v1/recognition.grpc.pb.h"
#include "server/auth.h"
#include "server/model_registry.h"
#include "server/recognition_metrics.h"
#include "server/recognition_session.h"
#include "server/stream_scheduler.h"

namespace asr::server {

struct RecognitionOptions {
  int max_streams = 200;             // concurrent streams; more get RESOURCE_EXHAUSTED
  double idle_timeout_seconds = 30;  // a stream without messages this long ends with DEADLINE_EXCEEDED
  SessionLimits limits;
  int recognize_workers = 2;           // threads serving unary Recognize
  double max_recognize_seconds = 600;  // audio per Recognize call
};

// A fixed pool of threads running queued tasks in order.
class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();
  void Submit(std::function<void()> task);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;
};

class StreamReactor;

class RecognitionService final : public asr::v1::RecognitionService::CallbackService {
 public:
  RecognitionService(ModelRegistry* models, StreamScheduler* scheduler, RecognitionMetrics* metrics,
                     const Authenticator* auth, RecognitionOptions options);
  ~RecognitionService() override;

  grpc::ServerBidiReactor<asr::v1::StreamingRecognizeRequest, asr::v1::StreamingRecognizeResponse>*
  StreamingRecognize(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* Recognize(grpc::CallbackServerContext* ctx, const asr::v1::RecognizeRequest* req,
                                      asr::v1::RecognizeResponse* resp) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const asr::v1::ListModelsRequest* req,
                                       asr::v1::ListModelsResponse* resp) override;

  // Stream bookkeeping, used by StreamReactor.
  bool Admit(StreamReactor* r);
  void Release(StreamReactor* r);
  ModelRegistry* models() { return models_; }
  StreamScheduler* scheduler() { return scheduler_; }
  RecognitionMetrics* metrics() { return metrics_; }
  const Authenticator* auth() { return auth_; }
  const RecognitionOptions& options() { return opts_; }

 private:
  void Reap();

  ModelRegistry* models_;
  StreamScheduler* scheduler_;
  RecognitionMetrics* metrics_;
  const Authenticator* auth_;
  RecognitionOptions opts_;
  TaskPool pool_;
  std::mutex mu_;
  std::condition_variable reaper_cv_;
  std::set<StreamReactor*> streams_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::thread reaper_;
};

}  // namespace asr::server
