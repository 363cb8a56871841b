// StreamReactor: one StreamingRecognize call over the gRPC callback API (no
// thread per stream). Reads feed a RecognitionStream; the StreamBatcher
// decodes it with the other streams and hands back results, which are
// written one at a time (an interim result waiting behind a write is
// replaced by a newer one, so a slow reader holds at most one). Holds no
// recognition logic: that is the recognizer library's.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "asr/v1/recognition.grpc.pb.h"
#include "model/recognizer/recognition_stream.h"
#include "model/recognizer/stream_batcher.h"
#include "server/auth.h"
#include "server/model_registry.h"
#include "server/recognition_metrics.h"
#include "server/stream_admission.h"

namespace asr::server {

// What every StreamReactor uses. Nothing is owned; all of it outlives the
// reactors (the server drains every call before destroying it).
struct StreamServices {
  const Authenticator* auth = nullptr;
  StreamAdmission* admission = nullptr;
  ModelRegistry* models = nullptr;
  StreamBatcher* batcher = nullptr;
  RecognitionMetrics* metrics = nullptr;
  StreamLimits limits;
};

class StreamReactor final
    : public grpc::ServerBidiReactor<asr::v1::StreamingRecognizeRequest, asr::v1::StreamingRecognizeResponse>,
      public StreamSink,
      public StreamAdmission::Stream {
 public:
  // Created by gRPC's handler; deletes itself in OnDone.
  StreamReactor(grpc::CallbackServerContext* ctx, const StreamServices& services);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // StreamSink (the batcher's thread).
  void OnResults(std::vector<RecognitionResult> results, bool finished) override;
  void OnError(const absl::Status& status) override;

  // StreamAdmission::Stream (the reaper's thread).
  // The last message either way (read, written, results made); now while
  // received audio is still being decoded. Idle = neither side progressed.
  std::chrono::steady_clock::time_point last_activity() override;
  void Ref() override;
  void Unref() override;  // the last reference (the call's, or the reaper's) deletes this
  // First call: finishes with DEADLINE_EXCEEDED after the write in flight.
  // A client that reads nothing never lets that write (or the status)
  // through, so once kWriteDeadline more has passed the call is cancelled
  // (RST_STREAM): the slot is free within idle timeout + write deadline.
  void Expire() override;
  // Finishes with `status` after the write in flight.
  void End(const absl::Status& status) override { Fail(status); }
  // At most this long (and at most the idle timeout) for the last write
  // and the status to reach a client after the idle timeout.
  static constexpr double kWriteDeadlineSeconds = 5;

 private:
  using Response = asr::v1::StreamingRecognizeResponse;
  // Creates the recognition stream from the first message's config.
  absl::Status Start(const asr::v1::RecognitionConfig& config);
  void Touch();
  // Stops decoding now; no sink callback runs after it returns. Waits for a
  // decode in flight, whose callback may need mu_: never call with mu_ held.
  void StopDecoding();
  void Fail(const absl::Status& status);
  // Finishes the call with `status` once the write in flight (and, unless
  // `drop_unwritten`, every queued response) has been written.
  void FinishAfterWriteLocked(const grpc::Status& status, bool drop_unwritten);
  void Enqueue(Response r);
  void WriteNextLocked();
  void FinishLocked(const grpc::Status& status);
  void FinishOnce(const grpc::Status& status);

  grpc::CallbackServerContext* const ctx_;
  const StreamServices services_;
  asr::v1::StreamingRecognizeRequest req_;
  asr::v1::RecognitionConfig config_;          // set on the read path only, before stream_
  std::unique_ptr<RecognitionStream> stream_;  // set on the read path only
  bool admitted_ = false;
  std::mutex mu_;
  RecognitionStream* decoding_ = nullptr;                // guarded by mu_; registered with the batcher
  std::deque<Response> queue_;                           // guarded by mu_; front() is being written
  bool writing_ = false, finished_ = false;              // guarded by mu_
  bool read_paused_ = false;                             // guarded by mu_; backpressure, see OnReadDone
  std::optional<grpc::Status> pending_finish_;           // guarded by mu_
  std::chrono::steady_clock::time_point last_activity_;  // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> expired_at_;  // guarded by mu_
  int refs_ = 1;  // guarded by mu_; the call's own, dropped in OnDone
  // Held across TryCancel, and by OnDone while it marks the call done: ctx_
  // is gRPC's and goes away after OnDone. Recursive in case gRPC runs
  // OnDone inline in TryCancel.
  std::recursive_mutex call_mu_;
  bool call_done_ = false, cancel_sent_ = false;  // guarded by call_mu_
};

}  // namespace asr::server
