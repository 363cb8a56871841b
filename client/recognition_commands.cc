// asr-client commands of the recognition service: transcribe (unary or
// streamed, optionally paced in real time with interim results) and
// bench-stream (N concurrent real-time streams, latency percentiles).
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "asr/v1/recognition.grpc.pb.h"
#include "client/commands.h"
#include "features/audio.h"
#include "features/resample.h"
#include "nlohmann/json.hpp"

namespace asr::client {
namespace {

using asr::v1::RecognitionService;
using Clock = std::chrono::steady_clock;

double Sec(const google::protobuf::Duration& d) { return d.seconds() + d.nanos() * 1e-9; }

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Mono 16-bit PCM of a file, at its own sample rate.
absl::StatusOr<std::pair<std::string, int>> Linear16(const std::string& path) {
  auto audio = DecodeAudioFile(path);
  if (!audio.ok()) return audio.status();
  std::string pcm(audio->samples.size() * 2, '\0');
  for (size_t i = 0; i < audio->samples.size(); ++i) {
    const float v = std::clamp(audio->samples[i], -1.f, 1.f);
    const int16_t s = static_cast<int16_t>(std::lrint(v * 32767));
    pcm[2 * i] = static_cast<char>(s & 0xff);
    pcm[2 * i + 1] = static_cast<char>((s >> 8) & 0xff);
  }
  return std::make_pair(pcm, audio->sample_rate);
}

void PrintAlternative(const asr::v1::SpeechRecognitionAlternative& a, bool words) {
  std::printf("%s\n", a.transcript().c_str());
  if (!words) return;
  for (const auto& w : a.words()) {
    std::printf("  %-16s %7.2f %7.2f  %.2f\n", w.word().c_str(), Sec(w.start_time()), Sec(w.end_time()),
                w.confidence());
  }
}

struct TranscribeArgs {
  std::vector<std::string> files;
  std::string model = "default";
  int version = 0, alternatives = 0, chunk_ms = 100;
  bool stream = false, realtime = false, interim = false, words = true, lexicon = false;
  double endpoint_seconds = 0;
};

int TranscribeUnary(const ConnectionOptions& conn, const TranscribeArgs& a, const std::string& file) {
  asr::v1::RecognizeRequest req;
  req.mutable_config()->set_model(a.model);
  req.mutable_config()->set_model_version(a.version);
  req.mutable_config()->set_max_alternatives(a.alternatives);
  req.mutable_config()->set_enable_word_time_offsets(a.words);
  req.mutable_config()->set_lexicon_constrained(a.lexicon);
  req.set_audio(ReadBytes(file));
  auto ctx = MakeContext(conn);
  asr::v1::RecognizeResponse resp;
  const grpc::Status st = RecognitionService::NewStub(MakeChannel(conn))->Recognize(ctx.get(), req, &resp);
  if (!st.ok()) return ReportFailure("transcribe " + file, st);
  if (conn.json) {
    std::printf("%s\n", ToJsonLine(resp).c_str());
    return 0;
  }
  std::printf("%s: ", file.c_str());
  if (resp.alternatives_size() == 0) std::printf("\n");
  for (const auto& alt : resp.alternatives()) PrintAlternative(alt, a.words);
  return 0;
}

int TranscribeStream(const ConnectionOptions& conn, const TranscribeArgs& a, const std::string& file) {
  auto pcm = Linear16(file);
  if (!pcm.ok()) {
    std::fprintf(stderr, "asr-client: %s\n", std::string(pcm.status().message()).c_str());
    return 1;
  }
  auto [bytes, rate] = *pcm;
  auto ctx = MakeContext(conn, /*deadline=*/false);
  auto stub = RecognitionService::NewStub(MakeChannel(conn));
  auto rw = stub->StreamingRecognize(ctx.get());
  asr::v1::StreamingRecognizeRequest req;
  asr::v1::RecognitionConfig* c = req.mutable_config();
  c->set_model(a.model);
  c->set_model_version(a.version);
  c->set_encoding(asr::v1::LINEAR16);
  c->set_sample_rate_hertz(rate);
  c->set_audio_channel_count(1);
  c->set_interim_results(a.interim);
  c->set_max_alternatives(a.alternatives);
  c->set_enable_word_time_offsets(a.words);
  c->set_lexicon_constrained(a.lexicon);
  c->mutable_endpoint()->set_silence_seconds(a.endpoint_seconds);
  c->set_request_id(file);
  rw->Write(req);
  std::thread writer([&] {
    const size_t chunk = static_cast<size_t>(rate) * a.chunk_ms / 1000 * 2;
    const auto start = Clock::now();
    for (size_t off = 0, i = 0; off < bytes.size(); off += chunk, ++i) {
      if (a.realtime) std::this_thread::sleep_until(start + std::chrono::milliseconds(a.chunk_ms * i));
      asr::v1::StreamingRecognizeRequest r;
      r.set_audio(bytes.substr(off, chunk));
      if (!rw->Write(r)) break;
    }
    rw->WritesDone();
  });
  const bool tty = isatty(STDOUT_FILENO) && !conn.json;
  asr::v1::StreamingRecognizeResponse resp;
  bool dirty = false;
  while (rw->Read(&resp)) {
    if (conn.json) {
      std::printf("%s\n", ToJsonLine(resp).c_str());
      std::fflush(stdout);
      continue;
    }
    for (const auto& r : resp.results()) {
      if (r.alternatives_size() == 0) continue;
      const auto& alt = r.alternatives(0);
      if (!r.is_final()) {
        if (tty) {
          std::printf("\r\033[K%s", alt.transcript().c_str());
          std::fflush(stdout);
          dirty = true;
        }
        continue;
      }
      if (dirty) std::printf("\r\033[K");
      dirty = false;
      std::printf("[%6.2f s] ", Sec(r.result_end_time()));
      PrintAlternative(alt, a.words);
      for (int k = 1; k < r.alternatives_size(); ++k) {
        std::printf("     alt %d (%.2f): %s\n", k, r.alternatives(k).confidence(),
                    r.alternatives(k).transcript().c_str());
      }
    }
  }
  if (dirty) std::printf("\n");
  writer.join();
  const grpc::Status st = rw->Finish();
  if (!st.ok()) return ReportFailure("stream " + file, st);
  return 0;
}

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
    std::string pcm(r->size() * 2, '\0');
    for (size_t i = 0; i < r->size(); ++i) {
      const int16_t s = static_cast<int16_t>(std::lrint(std::clamp((*r)[i], -1.f, 1.f) * 32767));
      pcm[2 * i] = static_cast<char>(s & 0xff);
      pcm[2 * i + 1] = static_cast<char>((s >> 8) & 0xff);
    }
    clips.push_back(std::move(pcm));
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

}  // namespace

void AddRecognitionCommands(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  {
    auto* cmd = app.add_subcommand("transcribe", "transcribe audio files (unary, or --stream)");
    auto a = std::make_shared<TranscribeArgs>();
    cmd->add_option("files", a->files, "audio files (any container, rate, channels)")->required();
    cmd->add_option("--model", a->model, "published model name")->capture_default_str();
    cmd->add_option("--model-version", a->version, "model version (0 = latest)");
    cmd->add_flag("--stream", a->stream, "use StreamingRecognize");
    cmd->add_flag("--realtime", a->realtime, "pace the stream in real time");
    cmd->add_option("--chunk-ms", a->chunk_ms, "audio per stream message, ms")->capture_default_str();
    cmd->add_flag("--interim", a->interim, "show interim results (updated in place on a terminal)");
    cmd->add_option("--alternatives", a->alternatives, "N-best alternatives (beam search)");
    cmd->add_flag("--lexicon", a->lexicon,
                  "only words the model was trained on (closed-vocabulary beam search)");
    cmd->add_option("--endpoint-silence", a->endpoint_seconds,
                    "seconds of silence that end an utterance (0 = 0.8)");
    cmd->add_flag("!--no-words", a->words, "omit word timings");
    cmd->callback([&conn, exit_code, a] {
      int rc = 0;
      for (const std::string& f : a->files) {
        const int r = a->stream ? TranscribeStream(conn, *a, f) : TranscribeUnary(conn, *a, f);
        rc = std::max(rc, r);
      }
      *exit_code = rc;
    });
  }
  {
    auto* cmd = app.add_subcommand("bench-stream",
                                   "N concurrent real-time streams; prints latency percentiles as JSON");
    struct Args {
      int streams = 10, chunk_ms = 100;
      double duration = 10;
      std::string audio, model = "default";
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--streams", a->streams, "concurrent streams")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    cmd->add_option("--duration", a->duration, "seconds of audio per stream")->capture_default_str();
    cmd->add_option("--chunk-ms", a->chunk_ms, "audio per message, ms")->capture_default_str();
    cmd->add_option("--audio", a->audio, "audio file or .jsonl manifest to stream (looped)")->required();
    cmd->add_option("--model", a->model, "published model name")->capture_default_str();
    cmd->callback([&conn, exit_code, a] {
      const std::vector<std::string> clips = BenchClips(a->audio);
      if (clips.empty()) {
        std::fprintf(stderr, "asr-client: bench-stream: no decodable audio in '%s'\n", a->audio.c_str());
        *exit_code = 1;
        return;
      }
      auto stub = RecognitionService::NewStub(MakeChannel(conn));
      const size_t want = static_cast<size_t>(a->duration * 32000) / 2 * 2;
      std::vector<std::unique_ptr<BenchStream>> streams;
      const auto start = Clock::now() + std::chrono::milliseconds(200);
      for (int i = 0; i < a->streams; ++i) {
        std::string audio;
        for (size_t k = static_cast<size_t>(i); audio.size() < want; ++k) audio += clips[k % clips.size()];
        audio.resize(want);
        // Streams start staggered within one chunk, as independent clients would.
        const auto offset = std::chrono::milliseconds(a->chunk_ms * i / a->streams);
        streams.push_back(std::make_unique<BenchStream>(stub.get(), conn, a->model, std::move(audio),
                                                        a->chunk_ms, start + offset));
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
      *exit_code = errors == 0 ? 0 : 1;
    });
  }
}

}  // namespace asr::client
