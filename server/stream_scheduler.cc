#include "server/stream_scheduler.h"

#include <torch/torch.h>

#include <algorithm>

namespace asr::server {

StreamScheduler::StreamScheduler(SchedulerOptions options, BatchObserver observer)
    : opts_(options), observer_(std::move(observer)), thread_([this] { Loop(); }) {}

StreamScheduler::~StreamScheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int64_t StreamScheduler::Add(std::shared_ptr<const ServingModel> model, Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  Stream& s = streams_[id];
  s.model = std::move(model);
  s.client = client;
  return id;
}

void StreamScheduler::Push(int64_t stream, std::vector<std::vector<float>> inputs) {
  if (inputs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto& v : inputs) {
      it->second.inputs.push_back(std::move(v));
      it->second.arrivals.push_back(now);
    }
  }
  cv_.notify_all();
}

size_t StreamScheduler::Pending(int64_t stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.inputs.size() + (it->second.in_flight ? 1 : 0);
}

void StreamScheduler::Remove(int64_t stream) {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] {
    auto it = streams_.find(stream);
    return it == streams_.end() || !it->second.in_flight;
  });
  streams_.erase(stream);
}

size_t StreamScheduler::active_streams() {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

std::vector<int64_t> StreamScheduler::NextBatchLocked(std::chrono::steady_clock::time_point* wake) {
  // The stream whose input has waited longest decides the model.
  const Stream* oldest = nullptr;
  for (const auto& [id, s] : streams_) {
    if (!s.inputs.empty() && (oldest == nullptr || s.arrivals.front() < oldest->arrivals.front()))
      oldest = &s;
  }
  std::vector<int64_t> ids;
  if (oldest == nullptr) return ids;
  // Ready streams of that model, longest-waiting first (no stream starves
  // when more than max_batch are ready).
  std::vector<std::pair<std::chrono::steady_clock::time_point, int64_t>> ready;
  for (const auto& [id, s] : streams_) {
    if (!s.inputs.empty() && s.model == oldest->model) ready.emplace_back(s.arrivals.front(), id);
  }
  const size_t take = std::min(ready.size(), static_cast<size_t>(opts_.max_batch));
  std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(take), ready.end());
  for (size_t i = 0; i < take; ++i) ids.push_back(ready[i].second);
  // Wait briefly for more company unless the batch is full or we waited enough.
  const auto deadline =
      oldest->arrivals.front() + std::chrono::microseconds(static_cast<int64_t>(opts_.max_wait_ms * 1000));
  size_t streams_with_model = 0;
  for (const auto& [id, s] : streams_) streams_with_model += s.model == oldest->model;
  if (static_cast<int>(ids.size()) < opts_.max_batch && ids.size() < streams_with_model &&
      std::chrono::steady_clock::now() < deadline) {
    *wake = deadline;
    return {};
  }
  return ids;
}

void StreamScheduler::Loop() {
  torch::NoGradGuard no_grad;
  while (true) {
    std::vector<int64_t> ids;
    std::vector<std::vector<float>> inputs;
    std::shared_ptr<const ServingModel> model;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        auto wake = std::chrono::steady_clock::time_point::max();
        ids = NextBatchLocked(&wake);
        if (!ids.empty()) break;
        if (wake == std::chrono::steady_clock::time_point::max()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, wake);
        }
      }
      if (stop_) return;
      for (int64_t id : ids) {
        Stream& s = streams_.at(id);
        inputs.push_back(std::move(s.inputs.front()));
        s.inputs.pop_front();
        s.arrivals.pop_front();
        s.in_flight = true;
      }
      model = streams_.at(ids.front()).model;
    }
    Run(ids, std::move(inputs), model);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int64_t id : ids) {
        auto it = streams_.find(id);
        if (it != streams_.end()) it->second.in_flight = false;
      }
    }
    idle_cv_.notify_all();
  }
}

void StreamScheduler::Run(const std::vector<int64_t>& ids, std::vector<std::vector<float>> inputs,
                          const std::shared_ptr<const ServingModel>& model) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t dim = static_cast<int64_t>(inputs.front().size());
  torch::Tensor x = torch::empty({n, dim});
  for (int64_t i = 0; i < n; ++i) std::memcpy(x[i].data_ptr<float>(), inputs[i].data(), dim * sizeof(float));
  // States are only touched by this thread (in_flight streams).
  std::vector<Stream*> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t id : ids) streams.push_back(&streams_.at(id));
  }
  AcousticModel& m = const_cast<AcousticModel&>(model->model);
  // New streams first warm their LSTM up on their first input (burn-in).
  std::vector<int64_t> fresh;
  for (int64_t i = 0; i < n; ++i) {
    if (!streams[i]->state.h.defined()) fresh.push_back(i);
  }
  if (!fresh.empty()) {
    const torch::Tensor idx = torch::tensor(fresh);
    LstmState warm;
    m->BurnIn(x.index_select(0, idx), &warm);
    for (size_t j = 0; j < fresh.size(); ++j) {
      streams[fresh[j]]->state = {warm.h.narrow(1, static_cast<int64_t>(j), 1).clone(),
                                  warm.c.narrow(1, static_cast<int64_t>(j), 1).clone()};
    }
  }
  std::vector<torch::Tensor> hs, cs;
  for (Stream* s : streams) {
    hs.push_back(s->state.h);
    cs.push_back(s->state.c);
  }
  LstmState state{torch::cat(hs, 1), torch::cat(cs, 1)};
  const torch::Tensor logp = m->StepLogProbs(x, &state).contiguous();
  const int64_t vocab = logp.size(1);
  for (int64_t i = 0; i < n; ++i) {
    streams[i]->state = {state.h.narrow(1, i, 1).clone(), state.c.narrow(1, i, 1).clone()};
  }
  if (observer_) {
    observer_(static_cast<int>(n),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  for (int64_t i = 0; i < n; ++i) streams[i]->client->OnLogProbs(logp.data_ptr<float>() + i * vocab, vocab);
}

}  // namespace asr::server
