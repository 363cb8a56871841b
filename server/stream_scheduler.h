// StreamScheduler: cross-stream batching of streaming inference. One
// inference thread gathers the pending model inputs (stacked feature frames)
// of all active streams that share a model version and advances them
// together with one batched LN-LSTM step per iteration, up to max_batch
// streams, waiting at most max_wait for more streams to have input.
// Per-stream LSTM states live here. Results go back through each stream's
// Client callback on the inference thread. Throughput grows with the
// number of concurrent streams instead of the number of threads.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model/ln_lstm.h"
#include "server/model_registry.h"

namespace asr::server {

struct SchedulerOptions {
  int max_batch = 64;      // streams per batched step; 1 = no cross-stream batching
  double max_wait_ms = 5;  // how long a ready input may wait for company
};

// Observes every batched step (for metrics).
using BatchObserver = std::function<void(int batch_size, double seconds)>;

class StreamScheduler {
 public:
  class Client {
   public:
    virtual ~Client() = default;
    // On the inference thread: log-probabilities [vocab] for this stream's
    // next input. Must not call back into the scheduler.
    virtual void OnLogProbs(const float* log_probs, int64_t vocab) = 0;
  };

  StreamScheduler(SchedulerOptions options, BatchObserver observer);
  ~StreamScheduler();

  // Registers a stream; `client` (not owned) must outlive Remove().
  int64_t Add(std::shared_ptr<const ServingModel> model, Client* client);
  // Queues inputs (each model->config().input_dim() floats) for a stream.
  void Push(int64_t stream, std::vector<std::vector<float>> inputs);
  // Inputs queued and not yet run.
  size_t Pending(int64_t stream);
  // Unregisters a stream; when it returns no callback for it runs or will run.
  void Remove(int64_t stream);
  size_t active_streams();

 private:
  struct Stream {
    std::shared_ptr<const ServingModel> model;
    Client* client;
    std::deque<std::vector<float>> inputs;
    // Arrival time of each input (parallel to `inputs`): the frames of one
    // chunk share it, so only a chunk's first frame waits for company.
    std::deque<std::chrono::steady_clock::time_point> arrivals;
    LstmState state;  // [L, 1, *]; undefined before the first step
    bool in_flight = false;
  };
  void Loop();
  // Picks the streams of the next batch (one model); empty if none ready.
  std::vector<int64_t> NextBatchLocked(std::chrono::steady_clock::time_point* wake);
  void Run(const std::vector<int64_t>& ids, std::vector<std::vector<float>> inputs,
           const std::shared_ptr<const ServingModel>& model);

  SchedulerOptions opts_;
  BatchObserver observer_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::map<int64_t, Stream> streams_;  // guarded by mu_
  int64_t next_id_ = 1;                // guarded by mu_
  bool stop_ = false;                  // guarded by mu_
  std::thread thread_;
};

}  // namespace asr::server
