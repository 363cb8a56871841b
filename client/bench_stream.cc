// `asr-client bench-stream`: N concurrent streams paced in real time, each
// a callback-API call driven by one shared clock; prints the latency
// percentiles (a chunk's send to the first response whose
// processed_audio_seconds covers it) as one JSON line.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "asr/v1/recognition.grpc.pb.h"
#include "client/commands.h"
#include "client/pcm.h"
#include "features/audio.h"
#include "features/resample.h"
#include "nlohmann/json.hpp"

namespace asr::client {
namespace {

using asr::v1::RecognitionService;
using Clock = std::chrono::steady_clock;

// Audio for the benchmark: 16 kHz mono PCM clips from a file or manifest.
std::vector<std::string> BenchClips(const std::string& source) {
  std::vector<std::string> paths;
  if (source.size() > 6 && source.substr(source.size() - 6) == ".jsonl") {
    std::ifstream in(source);
    const std::string dir = source.find('/') == std::string::npos ? "." : source.substr(0, source.rfind('/'));
    for (std::string line; std::getline(in, line) && paths.size() < 64;) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("audio_filepath")) continue;
      const std::string p = j["audio_filepath"];
      paths.push_back(p.front() == '/' ? p : dir + "/" + p);
    }
  } else {
    paths.push_back(source);
  }
  std::vector<std::string> clips;
  for (const std::string& p : paths) {
    auto a = DecodeAudioFile(p);
    if (!a.ok()) continue;
    auto r = Resample(a->samples, a->sample_rate, 16000);
    if (!r.ok()) continue;
    clips.push_back(Linear16Bytes(*r));
  }
  return clips;
}

// One benchmark stream: a callback-API bidi call paced by the shared clock.
class BenchStream : public grpc::ClientBidiReactor<asr::v1::StreamingRecognizeRequest,
                                                   asr::v1::StreamingRecognizeResponse> {
 public:
  BenchStream(asr::v1::RecognitionService::Stub* stub, const ConnectionOptions& conn,
              const std::string& model, std::string audio, int chunk_ms, Clock::time_point start)
      : audio_(std::move(audio)),
        chunk_bytes_(static_cast<size_t>(16 * chunk_ms * 2)),
        chunk_ms_(chunk_ms),
        start_(start) {
    ctx_ = MakeContext(conn, /*deadline=*/false);
    stub->async()->StreamingRecognize(ctx_.get(), this);
    req_.mutable_config()->set_model(model);
    req_.mutable_config()->set_encoding(asr::v1::LINEAR16);
    req_.mutable_config()->set_sample_rate_hertz(16000);
    req_.mutable_config()->set_interim_results(true);
    req_.mutable_config()->mutable_endpoint()->set_silence_seconds(-1);
    StartWrite(&req_);
    writing_ = true;
    StartRead(&resp_);
    StartCall();
  }
  // Called by the pacer: sends the next chunk if it is due and the last write finished.
  void Tick(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || closed_ || done_) return;
    if (sent_ * chunk_bytes_ >= audio_.size()) {
      closed_ = true;
      StartWritesDone();
      return;
    }
    if (now < start_ + std::chrono::milliseconds(chunk_ms_ * static_cast<int64_t>(sent_))) return;
    req_.Clear();
    req_.set_audio(audio_.substr(sent_ * chunk_bytes_, chunk_bytes_));
    send_times_.push_back(now);
    ++sent_;
    writing_ = true;
    StartWrite(&req_);
  }
  void OnWriteDone(bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      // Every chunk whose end is covered by the processed audio gets its latency.
      const double covered = resp_.processed_audio_seconds();
      while (acked_ < send_times_.size() &&
             static_cast<double>((acked_ + 1) * chunk_bytes_) / 32000.0 <= covered + 1e-6) {
        latencies_.push_back(std::chrono::duration<double>(now - send_times_[acked_]).count() * 1000);
        ++acked_;
      }
      last_response_ = now;
    }
    StartRead(&resp_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  const std::vector<double>& latencies() const { return latencies_; }
  bool ok() const { return status_.ok(); }
  double seconds() const { return audio_.size() / 32000.0; }
  double elapsed() const { return std::chrono::duration<double>(last_response_ - start_).count(); }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::string audio_;
  size_t chunk_bytes_;
  int chunk_ms_;
  Clock::time_point start_, last_response_;
  asr::v1::StreamingRecognizeRequest req_;
  asr::v1::StreamingRecognizeResponse resp_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t sent_ = 0, acked_ = 0;
  bool writing_ = false, closed_ = false, done_ = false;
  std::vector<Clock::time_point> send_times_;
  std::vector<double> latencies_;
  grpc::Status status_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(p * (v.size() - 1) + 0.5)))];
}

struct BenchArgs {
  int streams = 10, chunk_ms = 100;
  double duration = 10;
  std::string audio, model = "default";
};

// Runs the benchmark `a` describes; returns the exit code.
int BenchStreams(const ConnectionOptions& conn, const BenchArgs* a) {
  const std::vector<std::string> clips = BenchClips(a->audio);
  if (clips.empty()) {
    std::fprintf(stderr, "asr-client: bench-stream: no decodable audio in '%s'\n", a->audio.c_str());
    return 1;
  }
  auto stub = RecognitionService::NewStub(MakeChannel(conn));
  const size_t want = static_cast<size_t>(a->duration * 32000) / 2 * 2;
  std::vector<std::unique_ptr<BenchStream>> streams;
  // Streams open staggered over one chunk, as independent clients would
  // (so a balancing client spreads them over replicas as they connect),
  // and start sending once all are open.
  const auto opened = Clock::now();
  const auto start = opened + std::chrono::milliseconds(a->chunk_ms + 200);
  for (int i = 0; i < a->streams; ++i) {
    std::string audio;
    for (size_t k = static_cast<size_t>(i); audio.size() < want; ++k) audio += clips[k % clips.size()];
    audio.resize(want);
    const auto offset = std::chrono::milliseconds(a->chunk_ms * i / a->streams);
    std::this_thread::sleep_until(opened + offset);
    streams.push_back(std::make_unique<BenchStream>(stub.get(), conn, a->model, std::move(audio), a->chunk_ms,
                                                    start + offset));
  }
  while (true) {
    bool all = true;
    const auto now = Clock::now();
    for (auto& s : streams) {
      s->Tick(now);
      all = all && s->done();
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::vector<double> lat;
  int errors = 0;
  double rtf = 0;
  for (auto& s : streams) {
    s->Wait();
    lat.insert(lat.end(), s->latencies().begin(), s->latencies().end());
    errors += s->ok() ? 0 : 1;
    rtf += s->elapsed() / s->seconds();
  }
  std::printf(
      "{\"streams\": %d, \"p50_ms\": %.1f, \"p95_ms\": %.1f, \"p99_ms\": %.1f, \"rtf\": %.3f, "
      "\"errors\": %d}\n",
      a->streams, Percentile(lat, 0.5), Percentile(lat, 0.95), Percentile(lat, 0.99),
      rtf / static_cast<double>(streams.size()), errors);
  return errors == 0 ? 0 : 1;
}

}  // namespace

void AddBenchStreamCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("bench-stream",
                                 "N concurrent real-time streams; prints latency percentiles as JSON");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--streams", a->streams, "concurrent streams")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--duration", a->duration, "seconds of audio per stream")->capture_default_str();
  cmd->add_option("--chunk-ms", a->chunk_ms, "audio per message, ms")->capture_default_str();
  cmd->add_option("--audio", a->audio, "audio file or .jsonl manifest to stream (looped)")->required();
  cmd->add_option("--model", a->model, "published model name")->capture_default_str();
  cmd->callback([&conn, exit_code, a] { *exit_code = BenchStreams(conn, a.get()); });
}

}  // namespace asr::client
