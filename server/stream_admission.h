// Admission control and idle reaping for streaming calls: at most
// max_streams at once (the caller answers RESOURCE_EXHAUSTED beyond), and a
// reaper thread that expires streams idle longer than the timeout (checked
// every 0.5 s) and returns free heap memory to the system when the last
// stream has ended. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "absl/status/status.h"

namespace asr::server {

class StreamAdmission {
 public:
  // A stream as the reaper sees it.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Called with the admission lock held.
    virtual std::chrono::steady_clock::time_point last_activity() = 0;
    // Keeps the stream alive across an Expire() made without the admission
    // lock: Ref() is called with the lock held (so before Release()), and
    // the matching Unref() may free the stream.
    virtual void Ref() = 0;
    virtual void Unref() = 0;
    // Ends the stream (DEADLINE_EXCEEDED), however the client behaves.
    // Called on the reaper's thread, without the admission lock, every
    // period while the stream stays idle and admitted (it may call
    // Release() meanwhile).
    virtual void Expire() = 0;
    // Ends the stream with `status` now (the server is going away). Called
    // without the admission lock, with a Ref() held.
    virtual void End(const absl::Status& status) = 0;
  };

  StreamAdmission(int max_streams, double idle_timeout_seconds);
  ~StreamAdmission();

  // True if `s` (not owned) is admitted; it must be Release()d before it goes away.
  bool Admit(Stream* s);
  void Release(Stream* s);
  // End(status) on every admitted stream.
  void EndAll(const absl::Status& status);
  int max_streams() const { return max_streams_; }
  double idle_timeout_seconds() const { return idle_timeout_seconds_; }

 private:
  void Reap();

  const int max_streams_;
  const double idle_timeout_seconds_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<Stream*> streams_;  // guarded by mu_
  // Admissions refused since the reaper last logged them (at most every
  // 10 s, so a flood cannot flood the log); guarded by mu_.
  int64_t refused_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  bool stop_ = false;  // guarded by mu_
  std::thread reaper_;
};

}  // namespace asr::server
