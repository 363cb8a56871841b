// asr.v1.RecognitionService over the gRPC callback API, a thin layer over
// the recognizer library (model/recognizer/): StreamingRecognize makes a
// StreamReactor per call, Recognize runs the library's offline recognition
// on a small worker pool (model runs never block gRPC's threads), and
// ListModels reads the registry.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "asr/v1/recognition.grpc.pb.h"
#include "server/server_options.h"
#include "server/stream_reactor.h"

namespace asr::server {

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

class RecognitionService final : public asr::v1::RecognitionService::CallbackService {
 public:
  // Nothing is owned; everything must outlive this service.
  RecognitionService(ModelRegistry* models, StreamBatcher* batcher, RecognitionMetrics* metrics,
                     const Authenticator* auth, const RecognitionServiceOptions& options,
                     StreamLimits limits);
  static constexpr double kMaxRecognizeSeconds = 600;  // audio per Recognize call

  grpc::ServerBidiReactor<asr::v1::StreamingRecognizeRequest, asr::v1::StreamingRecognizeResponse>*
  StreamingRecognize(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* Recognize(grpc::CallbackServerContext* ctx, const asr::v1::RecognizeRequest* req,
                                      asr::v1::RecognizeResponse* resp) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const asr::v1::ListModelsRequest* req,
                                       asr::v1::ListModelsResponse* resp) override;
  // Ends every open stream with `status` (results so far are kept).
  void EndStreams(const absl::Status& status) { admission_.EndAll(status); }

 private:
  absl::StatusOr<asr::v1::RecognizeResponse> RunRecognize(const asr::v1::RecognizeRequest& req);

  ModelRegistry* models_;
  RecognitionMetrics* metrics_;
  const Authenticator* auth_;
  StreamAdmission admission_;
  StreamServices stream_services_;
  TaskPool pool_;
};

}  // namespace asr::server
