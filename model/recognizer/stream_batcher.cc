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
  // The hook runs under the stream's lock and takes ours: the order is
  // always stream, then batcher, never the reverse.
  stream->SetReadyHook([this, stream](Clock::time_point since) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = streams_.find(stream);
      if (it == streams_.end()) return;
      it->second.ready_since = since;
    }
    cv_.notify_all();
  });
}

void StreamBatcher::Remove(RecognitionStream* stream) {
  stream->SetReadyHook(nullptr);
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
  // The stream whose work has waited longest decides the model.
  const Entry* oldest = nullptr;
  for (const auto& [s, e] : streams_) {
    if (!e.in_flight && e.ready_since != Clock::time_point::max() &&
        (oldest == nullptr || e.ready_since < oldest->ready_since)) {
      oldest = &e;
    }
  }
  if (oldest == nullptr) return {};
  // Ready streams of that model, longest-waiting first (no stream starves
  // when more than max_batch are ready).
  std::vector<std::pair<Clock::time_point, RecognitionStream*>> ready;
  size_t streams_with_model = 0;
  for (const auto& [s, e] : streams_) {
    if (e.model != oldest->model) continue;
    ++streams_with_model;
    if (!e.in_flight && e.ready_since != Clock::time_point::max()) ready.emplace_back(e.ready_since, s);
  }
  const size_t take = std::min(ready.size(), static_cast<size_t>(opts_.max_batch));
  std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(take), ready.end());
  // Wait briefly for more company unless the batch is full or waited enough.
  const auto deadline =
      oldest->ready_since + std::chrono::microseconds(static_cast<int64_t>(opts_.max_wait_ms * 1000));
  if (static_cast<int>(take) < opts_.max_batch && take < streams_with_model && Clock::now() < deadline) {
    *wake = deadline;
    return {};
  }
  std::vector<RecognitionStream*> batch;
  for (size_t i = 0; i < take; ++i) batch.push_back(ready[i].second);
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
    absl::Status error;
    try {
      DecodeStreams(batch, observer_);
    } catch (const std::exception& e) {
      error = absl::InternalError(absl::StrCat("recognition failed: ", e.what()));
    }
    Deliver(batch, error);
  }
}

// Hands each stream of `batch` its results (or the error), then releases it.
void StreamBatcher::Deliver(const std::vector<RecognitionStream*>& batch, const absl::Status& error) {
  std::vector<StreamSink*> sinks;
  std::vector<bool> report_finish;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (RecognitionStream* s : batch) sinks.push_back(streams_.at(s).sink);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!error.ok()) {
      sinks[i]->OnError(error);
      continue;
    }
    std::vector<RecognitionResult> results = batch[i]->TakeResults();
    const bool finished = batch[i]->IsFinished();
    bool first_finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Entry& e = streams_.at(batch[i]);
      first_finish = finished && !e.finished;
      e.finished = e.finished || finished;
    }
    if (!results.empty() || first_finish) sinks[i]->OnResults(std::move(results), first_finish);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (RecognitionStream* s : batch) streams_.at(s).in_flight = false;
  }
  idle_cv_.notify_all();
}

}  // namespace asr
