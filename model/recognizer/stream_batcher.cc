#include "model/recognizer/stream_batcher.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"
#include "model/recognizer/recognizer.h"

namespace asr {

StreamBatcher::StreamBatcher(BatcherOptions options, RecognitionObserver* observer)
    : opts_(options), observer_(observer), thread_([this] { Loop(); }) {}

StreamBatcher::~StreamBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StreamBatcher::Add(RecognitionStream* stream, StreamSink* sink) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_[stream] = Entry{sink, &stream->model()};
  }
  stream->SetWakeHook([this] { WakeUp(); });
  WakeUp();  // it may have work already
}

void StreamBatcher::WakeUp() {
  // Readiness lives in the streams (lock-free); taking mu_ orders this
  // after a Loop() that has just looked and is about to wait.
  { std::lock_guard<std::mutex> lock(mu_); }
  cv_.notify_all();
}

void StreamBatcher::Remove(RecognitionStream* stream) {
  stream->SetWakeHook(nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] {
    auto it = streams_.find(stream);
    return it == streams_.end() || !it->second.in_flight;
  });
  streams_.erase(stream);
}

size_t StreamBatcher::active_streams() {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

std::vector<RecognitionStream*> StreamBatcher::NextBatchLocked(Clock::time_point* wake) {
  // Each idle stream's oldest work, read once; the longest-waiting decides the model.
  std::vector<Ready>& ready = ready_;
  ready.clear();
  for (const auto& [s, e] : streams_) {
    if (e.in_flight) continue;
    const Clock::time_point since = s->ready_since();
    if (since != Clock::time_point::max()) ready.push_back({since, {s, &e}});
  }
  if (ready.empty()) return {};
  const auto oldest = std::min_element(ready.begin(), ready.end(),
                                       [](const auto& a, const auto& b) { return a.first < b.first; });
  const RecognizerModel* model = oldest->second.second->model;
  const Clock::time_point oldest_since = oldest->first;
  // Ready streams of that model, longest-waiting first (no stream starves
  // when more than max_batch are ready).
  ready.erase(std::remove_if(ready.begin(), ready.end(),
                             [model](const auto& r) { return r.second.second->model != model; }),
              ready.end());
  size_t streams_with_model = 0;
  for (const auto& [s, e] : streams_) streams_with_model += e.model == model;
  const size_t take = std::min(ready.size(), static_cast<size_t>(opts_.max_batch));
  std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(take), ready.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  // Wait briefly for more company unless the batch is full or waited enough.
  const auto deadline =
      oldest_since + std::chrono::microseconds(static_cast<int64_t>(opts_.max_wait_ms * 1000));
  if (static_cast<int>(take) < opts_.max_batch && take < streams_with_model && Clock::now() < deadline) {
    *wake = deadline;
    return {};
  }
  std::vector<RecognitionStream*> batch;
  for (size_t i = 0; i < take; ++i) batch.push_back(ready[i].second.first);
  return batch;
}

void StreamBatcher::Loop() {
  while (true) {
    std::vector<RecognitionStream*> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        auto wake = Clock::time_point::max();
        batch = NextBatchLocked(&wake);
        if (!batch.empty()) break;
        if (wake == Clock::time_point::max()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, wake);
        }
      }
      if (stop_) return;
      for (RecognitionStream* s : batch) streams_.at(s).in_flight = true;
    }
    // Each stream's results go to its sink as soon as it is settled.
    std::vector<StreamSink*> sinks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (RecognitionStream* s : batch) sinks.push_back(streams_.at(s).sink);
    }
    std::vector<bool> settled(batch.size(), false);
    try {
      DecodeStreams(batch, observer_, [&](size_t i, std::vector<RecognitionResult> results, bool last) {
        settled[i] = true;
        sinks[i]->OnResults(std::move(results), last);
      });
    } catch (const std::exception& e) {
      const absl::Status error = absl::InternalError(absl::StrCat("recognition failed: ", e.what()));
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!settled[i]) sinks[i]->OnError(error);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (RecognitionStream* s : batch) streams_.at(s).in_flight = false;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace asr
