// StreamBatcher: cross-stream batching on one inference thread. Its loop is
// the whole of serving: collect the streams that are ready, decode those of
// one model together (DecodeStreams: one batched LN-LSTM step for up to
// max_batch streams, waiting at most max_wait_ms for company), and hand
// each stream's new results to its sink as soon as that stream is settled. Throughput grows with the number
// of concurrent streams instead of the number of threads. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "model/recognizer/recognition_observer.h"
#include "model/recognizer/recognition_result.h"
#include "model/recognizer/recognition_stream.h"

namespace asr {

struct BatcherOptions {
  int max_batch = 64;      // streams per batched step; 1 = no cross-stream batching
  double max_wait_ms = 5;  // how long a ready input may wait for company
};

// Where a stream's results go (the transport: a gRPC reactor, a test).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // On the batcher's thread, after each decode of the stream: its new
  // results in order (maybe none: every decode is reported, so a producer
  // waiting for the stream's backlog to shrink hears of it), and
  // `finished` once, with the last. Must not call back into the batcher.
  virtual void OnResults(std::vector<RecognitionResult> results, bool finished) = 0;
  // On the batcher's thread: decoding failed (INTERNAL); no results follow.
  virtual void OnError(const absl::Status& status) = 0;
};

class StreamBatcher {
 public:
  // `observer` (may be null; not owned, must outlive this) sees each batched step.
  explicit StreamBatcher(BatcherOptions options, RecognitionObserver* observer = nullptr);
  // Stops the thread. Every stream must have been removed.
  ~StreamBatcher();

  // Starts decoding `stream` whenever it is ready. Neither pointer is
  // owned; both must stay valid until Remove(stream) returns.
  void Add(RecognitionStream* stream, StreamSink* sink);
  // Stops decoding `stream`; when it returns no callback for it runs or
  // will run. Any thread but the batcher's own (not from a sink callback).
  void Remove(RecognitionStream* stream);
  size_t active_streams();

 private:
  using Clock = RecognitionStream::Clock;
  struct Entry {
    StreamSink* sink;
    const RecognizerModel* model;
    bool in_flight = false;  // in the batch being decoded
  };
  void Loop();
  // Wakes Loop() to look at the streams again (a stream got work).
  void WakeUp();
  // The streams of the next batch (one model), or none: then *wake says
  // until when to wait for company (max() = for new work).
  std::vector<RecognitionStream*> NextBatchLocked(Clock::time_point* wake);

  BatcherOptions opts_;
  RecognitionObserver* observer_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::map<RecognitionStream*, Entry> streams_;  // guarded by mu_
  // NextBatchLocked()'s scratch (oldest work, (stream, entry)), kept to
  // spare an allocation per batch; guarded by mu_.
  using Ready = std::pair<Clock::time_point, std::pair<RecognitionStream*, const Entry*>>;
  std::vector<Ready> ready_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace asr
