#include "server/stream_admission.h"

#include <malloc.h>

#include <vector>

#include "spdlog/spdlog.h"

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
  if (static_cast<int>(streams_.size()) >= max_streams_) {
    ++refused_;
    return false;
  }
  streams_.insert(s);
  return true;
}

void StreamAdmission::Release(Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(s);
}

void StreamAdmission::EndAll(const absl::Status& status) {
  std::vector<Stream*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Stream* s : streams_) {
      s->Ref();
      all.push_back(s);
    }
  }
  for (Stream* s : all) {
    s->End(status);
    s->Unref();
  }
}

void StreamAdmission::Reap() {
  std::unique_lock<std::mutex> lock(mu_);
  bool had_streams = false;
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    const auto now = std::chrono::steady_clock::now();
    if (had_streams && streams_.empty()) {
      // The last stream ended: hand the heap's free pages back to the
      // system (glibc keeps them otherwise), so RSS drops after a burst.
      lock.unlock();
      malloc_trim(0);
      lock.lock();
    }
    had_streams = !streams_.empty();
    if (refused_ > 0 && now - last_refusal_log_ >= std::chrono::seconds(10)) {
      spdlog::warn(
          "refused {} stream(s) (RESOURCE_EXHAUSTED): at the limit of {} concurrent streams; "
          "reported at most every 10 s",
          refused_, max_streams_);
      refused_ = 0;
      last_refusal_log_ = now;
    }
    std::vector<Stream*> idle;
    for (Stream* s : streams_) {
      if (std::chrono::duration<double>(now - s->last_activity()).count() > idle_timeout_seconds_) {
        s->Ref();
        idle.push_back(s);
      }
    }
    lock.unlock();
    for (Stream* s : idle) {
      s->Expire();
      s->Unref();
    }
    lock.lock();
  }
}

}  // namespace asr::server
