// `asr-client transcribe`: files to text through the recognition service,
// unary or streamed (optionally paced in real time, with interim results).
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "asr/v1/recognition.grpc.pb.h"
#include "client/commands.h"
#include "client/pcm.h"
#include "features/audio.h"

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
  return std::make_pair(Linear16Bytes(audio->samples), audio->sample_rate);
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
  std::string encoding =
      "linear16";  // --stream: linear16 (decoded here), or the file's own flac / ogg-opus bytes
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
  // Audio per message: chunk_ms of PCM, or the same share of a compressed file's bytes.
  size_t chunk = static_cast<size_t>(rate) * a.chunk_ms / 1000 * 2;
  if (a.encoding != "linear16") {
    const double pcm_bytes = static_cast<double>(std::max<size_t>(bytes.size(), 1));
    bytes = ReadBytes(file);
    chunk = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(chunk) * bytes.size() / pcm_bytes));
  }
  auto ctx = MakeContext(conn, /*deadline=*/false);
  auto stub = RecognitionService::NewStub(MakeChannel(conn));
  auto rw = stub->StreamingRecognize(ctx.get());
  asr::v1::StreamingRecognizeRequest req;
  asr::v1::RecognitionConfig* c = req.mutable_config();
  c->set_model(a.model);
  c->set_model_version(a.version);
  if (a.encoding == "linear16") {
    c->set_encoding(asr::v1::LINEAR16);
    c->set_sample_rate_hertz(rate);
    c->set_audio_channel_count(1);
  } else {
    c->set_encoding(a.encoding == "flac" ? asr::v1::FLAC : asr::v1::OGG_OPUS);
  }
  c->set_interim_results(a.interim);
  c->set_max_alternatives(a.alternatives);
  c->set_enable_word_time_offsets(a.words);
  c->set_lexicon_constrained(a.lexicon);
  c->mutable_endpoint()->set_silence_seconds(a.endpoint_seconds);
  c->set_request_id(file);
  rw->Write(req);
  std::thread writer([&] {
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

}  // namespace

void AddTranscribeCommand(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("transcribe", "transcribe audio files (unary, or --stream)");
  auto a = std::make_shared<TranscribeArgs>();
  cmd->add_option("files", a->files, "audio files (any container, rate, channels)")->required();
  cmd->add_option("--model", a->model, "published model name")->capture_default_str();
  cmd->add_option("--model-version", a->version, "model version (0 = latest)");
  cmd->add_flag("--stream", a->stream, "use StreamingRecognize");
  cmd->add_flag("--realtime", a->realtime, "pace the stream in real time");
  cmd->add_option("--chunk-ms", a->chunk_ms, "audio per stream message, ms")->capture_default_str();
  cmd->add_option("--encoding", a->encoding,
                  "--stream: send LINEAR16 decoded here, or the file's own bytes (a FLAC or Ogg/Opus file)")
      ->check(CLI::IsMember({"linear16", "flac", "ogg-opus"}))
      ->capture_default_str();
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

}  // namespace asr::client
