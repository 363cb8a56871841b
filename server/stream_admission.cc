#include "server/stream_admission.h"

namespace asr::server {

StreamAdmission::StreamAdmission(int max_streams, double idle_timeout_seconds)
    : max_streams_(max_streams), idle_timeout_seconds_(idle_timeout_seconds), reaper_([this] { Reap(); }) {}

StreamAdmission::~StreamAdmission() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  reaper_.join();
}

bool StreamAdmission::Admit(Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(streams_.size()) >= max_streams_) return false;
  streams_.insert(s);
  return true;
}

void StreamAdmission::Release(Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(s);
}

void StreamAdmission::Reap() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    const auto now = std::chrono::steady_clock::now();
    for (Stream* s : streams_) {
      if (std::chrono::duration<double>(now - s->last_activity()).count() > idle_timeout_seconds_)
        s->Expire();
    }
  }
}

}  // namespace asr::server
