// `asr-client transcribe`: files to text through the recognition service,
// unary or streamed (optionally paced in real time, with interim results).
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/v1/recognition.grpc.pb.h"
#include "client/commands.h"
#include "client/pcm.h"
#include "features/audio.h"
#include "model/base/phrase_arg.h"

namespace asr::client {
namespace {

using asr::v1::RecognitionService;
using Clock = std::chrono::steady_clock;

double Sec(const google::protobuf::Duration& d) { return d.seconds() + d.nanos() * 1e-9; }

// A file's bytes, or stdin's for "-"; NOT_FOUND naming the file if it
// cannot be read.
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "': ", std::strerror(errno)));
  ss << in.rdbuf();
  return ss.str();
}

void PrintAlternatives(const google::protobuf::RepeatedPtrField<asr::v1::SpeechRecognitionAlternative>& alts,
                       bool words, const std::string& prefix) {
  if (alts.empty()) std::printf("%s\n", prefix.c_str());
  for (int k = 0; k < alts.size(); ++k) {
    const auto& a = alts[k];
    if (alts.size() > 1) {
      std::printf("%s#%d (%.2f) %s\n", prefix.c_str(), k + 1, a.confidence(), a.transcript().c_str());
    } else {
      std::printf("%s%s\n", prefix.c_str(), a.transcript().c_str());
    }
    if (!words || a.words().empty() || k > 0) continue;
    std::printf("  %-16s %7s %7s  %s\n", "WORD", "START", "END", "CONF");
    for (const auto& w : a.words()) {
      std::printf("  %-16s %7.2f %7.2f  %.2f\n", w.word().c_str(), Sec(w.start_time()), Sec(w.end_time()),
                  w.confidence());
    }
  }
}

struct TranscribeArgs {
  std::vector<std::string> files;
  std::string model;  // empty: the only published model
  int version = 0, alternatives = 0, chunk_ms = 100;
  // Container files: --stream sends linear16 decoded here, or the file's
  // own flac / ogg-opus bytes. With --rate the input is headerless audio
  // in linear16, float32, mulaw or alaw, sent as it is.
  std::string encoding = "linear16";
  int rate = 0, channels = 1;
  bool stream = false, realtime = false, interim = false, words = true, lexicon = false,
       speech_events = false;
  double endpoint_seconds = 0;
  std::vector<std::string> phrases;  // TEXT or TEXT:BOOST
  bool raw() const { return rate > 0; }
};

// The model a transcription uses: --model, or the only published one.
absl::StatusOr<std::string> ChooseModel(const ConnectionOptions& conn, const std::string& model) {
  if (!model.empty()) return model;
  auto ctx = MakeContext(conn);
  asr::v1::ListModelsResponse resp;
  const grpc::Status st = RecognitionService::NewStub(MakeChannel(conn))
                              ->ListModels(ctx.get(), asr::v1::ListModelsRequest(), &resp);
  if (!st.ok()) return absl::UnavailableError("cannot list the published models: " + Describe(st));
  std::set<std::string> names;
  for (const auto& m : resp.models()) names.insert(m.name());
  if (names.size() == 1) return *names.begin();
  if (names.empty())
    return absl::FailedPreconditionError("no model is published yet (asr-client publish JOB NAME)");
  return absl::InvalidArgumentError(
      absl::StrCat("--model: required, several are published: ", absl::StrJoin(names, ", ")));
}

asr::v1::AudioEncoding RawEncoding(const std::string& name) {
  if (name == "float32") return asr::v1::FLOAT32;
  if (name == "mulaw") return asr::v1::MULAW;
  if (name == "alaw") return asr::v1::ALAW;
  return asr::v1::LINEAR16;
}

void SetAudioFormat(const TranscribeArgs& a, int rate, asr::v1::RecognitionConfig* c) {
  if (a.raw() || a.encoding == "linear16") {
    c->set_encoding(RawEncoding(a.encoding));
    c->set_sample_rate_hertz(rate);
    c->set_audio_channel_count(a.raw() ? a.channels : 1);
  } else {
    c->set_encoding(a.encoding == "flac" ? asr::v1::FLAC : asr::v1::OGG_OPUS);
  }
}

void SetDecoding(const TranscribeArgs& a, asr::v1::RecognitionConfig* c) {
  c->set_model(a.model);
  c->set_model_version(a.version);
  c->set_max_alternatives(a.alternatives);
  c->set_enable_word_time_offsets(a.words);
  c->set_lexicon_constrained(a.lexicon);
  for (const std::string& arg : a.phrases) {
    const auto parsed = ParsePhraseArg(arg);  // checked when the command was parsed
    asr::v1::Phrase* p = c->add_phrases();
    p->set_text(parsed->first);
    p->set_boost(parsed->second);
  }
}

int Fail(const std::string& file, const absl::Status& st) {
  std::fprintf(stderr, "asr-client: transcribe %s: %s\n", file.c_str(), std::string(st.message()).c_str());
  return 1;
}

int TranscribeUnary(const ConnectionOptions& conn, const TranscribeArgs& a, const std::string& file) {
  auto bytes = ReadInput(file);
  if (!bytes.ok()) return Fail(file, bytes.status());
  asr::v1::RecognizeRequest req;
  SetDecoding(a, req.mutable_config());
  if (a.raw()) SetAudioFormat(a, a.rate, req.mutable_config());  // else the server reads the container
  req.set_audio(std::move(*bytes));
  auto ctx = MakeContext(conn);
  asr::v1::RecognizeResponse resp;
  const grpc::Status st = RecognitionService::NewStub(MakeChannel(conn))->Recognize(ctx.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      st.error_message().find("larger than max") != std::string::npos) {
    return ReportFailure("transcribe " + file + " (too large for one Recognize call: use --stream)", st);
  }
  if (!st.ok()) return ReportFailure("transcribe " + file, st);
  if (conn.json) {
    std::printf("%s\n", ToJsonLine(resp).c_str());
    return 0;
  }
  // One line per utterance: "FILE [start - end s] text".
  for (const auto& r : resp.results()) {
    char when[48];
    std::snprintf(when, sizeof(when), " [%6.2f - %6.2f s] ", Sec(r.start_time()), Sec(r.end_time()));
    PrintAlternatives(r.alternatives(), a.words, file + when);
  }
  if (resp.results().empty()) PrintAlternatives(resp.alternatives(), a.words, file + ": ");
  return 0;
}

// What a stream sends: its bytes, their sample rate and the bytes per
// chunk_ms (the same share of a compressed file's bytes).
struct StreamAudio {
  std::string bytes;
  int rate = 0;
  size_t chunk = 0;
};

absl::StatusOr<StreamAudio> PrepareStream(const TranscribeArgs& a, const std::string& file) {
  auto bytes = ReadInput(file);
  if (!bytes.ok()) return bytes.status();
  StreamAudio s;
  if (a.raw()) {
    const size_t sample = a.encoding == "float32" ? 4 : a.encoding == "linear16" ? 2 : 1;
    s.rate = a.rate;
    s.chunk = static_cast<size_t>(a.rate) * a.chunk_ms / 1000 * sample * static_cast<size_t>(a.channels);
    s.bytes = std::move(*bytes);
    return s;
  }
  auto audio = DecodeAudioBuffer(bytes->data(), bytes->size(), file);
  if (!audio.ok()) return audio.status();
  s.rate = audio->sample_rate;
  s.bytes = Linear16Bytes(audio->samples);
  s.chunk = static_cast<size_t>(s.rate) * a.chunk_ms / 1000 * 2;
  if (a.encoding != "linear16") {
    const double pcm_bytes = static_cast<double>(std::max<size_t>(s.bytes.size(), 1));
    s.chunk =
        std::max<size_t>(1, static_cast<size_t>(static_cast<double>(s.chunk) * bytes->size() / pcm_bytes));
    s.bytes = std::move(*bytes);
  }
  s.chunk = std::max<size_t>(s.chunk, 1);
  return s;
}

// `label`: printed before each final ("" for a single file).
int TranscribeStream(const ConnectionOptions& conn, const TranscribeArgs& a, const std::string& file,
                     const std::string& label) {
  auto audio = PrepareStream(a, file);
  if (!audio.ok()) return Fail(file, audio.status());
  const std::string& bytes = audio->bytes;
  const size_t chunk = audio->chunk;
  auto ctx = MakeContext(conn, /*deadline=*/false);
  auto stub = RecognitionService::NewStub(MakeChannel(conn));
  auto rw = stub->StreamingRecognize(ctx.get());
  asr::v1::StreamingRecognizeRequest req;
  asr::v1::RecognitionConfig* c = req.mutable_config();
  SetDecoding(a, c);
  SetAudioFormat(a, audio->rate, c);
  c->set_interim_results(a.interim);
  c->set_speech_events(a.speech_events);
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
    if (resp.speech_event() != asr::v1::SPEECH_EVENT_UNSPECIFIED) {
      if (dirty) std::printf("\r\033[K");
      dirty = false;
      std::printf("%s[%6.2f s] (speech %s)\n", label.c_str(), Sec(resp.speech_event_time()),
                  resp.speech_event() == asr::v1::SPEECH_BEGIN ? "begins" : "ends");
    }
    for (const auto& r : resp.results()) {
      if (r.alternatives_size() == 0) continue;
      if (!r.is_final()) {
        if (tty) {
          std::printf("\r\033[K%s%s", label.c_str(), r.alternatives(0).transcript().c_str());
          std::fflush(stdout);
          dirty = true;
        }
        continue;
      }
      if (dirty) std::printf("\r\033[K");
      dirty = false;
      char when[32];
      std::snprintf(when, sizeof(when), "[%6.2f s] ", Sec(r.result_end_time()));
      PrintAlternatives(r.alternatives(), a.words, label + when);
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
  auto* cmd = app.add_subcommand("transcribe", "transcribe audio files (unary, or --stream); - reads stdin");
  auto a = std::make_shared<TranscribeArgs>();
  cmd->add_option("files", a->files, "audio files (any container, rate, channels), or - for stdin")
      ->required();
  cmd->add_option("--model", a->model, "published model name (default: the only one published)");
  cmd->add_option("--model-version", a->version, "model version (0 = latest)");
  cmd->add_flag("--stream", a->stream, "use StreamingRecognize");
  cmd->add_flag("--realtime", a->realtime, "pace the stream in real time");
  cmd->add_option("--chunk-ms", a->chunk_ms, "audio per stream message, ms")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--encoding", a->encoding,
                  "with --rate: the raw input's encoding (linear16, float32, mulaw, alaw); else --stream "
                  "sends linear16 "
                  "decoded here, or the file's own bytes (flac, ogg-opus)")
      ->check(CLI::IsMember({"linear16", "float32", "mulaw", "alaw", "flac", "ogg-opus"}, CLI::ignore_case))
      ->capture_default_str();
  cmd->add_option("--rate", a->rate, "the input is headerless PCM (--encoding) at this sample rate, Hz")
      ->check(CLI::Range(1000, 384000));
  cmd->add_option("--channels", a->channels, "channels of headerless PCM (interleaved)")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  cmd->add_flag("--interim", a->interim, "show interim results (updated in place on a terminal)");
  cmd->add_flag("--speech-events", a->speech_events, "--stream: show where speech begins and ends");
  cmd->add_option("--alternatives", a->alternatives, "N-best alternatives (beam search)");
  cmd->add_flag("--lexicon", a->lexicon,
                "only words the model was trained on (closed-vocabulary beam search)");
  cmd->add_option("--phrase", a->phrases,
                  "TEXT or TEXT:BOOST, repeatable: favour this phrase in decoding (beam search; boost = "
                  "log-probability bonus per output unit, default 0.5)");
  cmd->add_option("--endpoint-silence", a->endpoint_seconds,
                  "seconds of silence that end an utterance (0 = 0.8)");
  cmd->add_flag("!--no-words", a->words, "omit word timings");
  cmd->callback([&conn, exit_code, a] {
    a->encoding = absl::AsciiStrToLower(a->encoding);
    const bool headerless = a->encoding != "flac" && a->encoding != "ogg-opus";
    if (a->raw() && !headerless) {
      std::fprintf(
          stderr,
          "asr-client: transcribe: --rate means headerless audio: --encoding linear16, float32, mulaw "
          "or alaw\n");
      *exit_code = 2;
      return;
    }
    if (!a->raw() && headerless && a->encoding != "linear16") {
      std::fprintf(stderr, "asr-client: transcribe: --encoding %s is headerless audio: give its --rate\n",
                   a->encoding.c_str());
      *exit_code = 2;
      return;
    }
    for (const std::string& arg : a->phrases) {
      if (auto parsed = ParsePhraseArg(arg); !parsed.ok()) {
        std::fprintf(stderr, "asr-client: transcribe: --%s\n",
                     std::string(parsed.status().message()).c_str());
        *exit_code = 2;
        return;
      }
    }
    if (std::count(a->files.begin(), a->files.end(), "-") > 1) {
      std::fprintf(stderr, "asr-client: transcribe: stdin (-) can be read once\n");
      *exit_code = 2;
      return;
    }
    auto model = ChooseModel(conn, a->model);
    if (!model.ok()) {
      std::fprintf(stderr, "asr-client: transcribe: %s\n", std::string(model.status().message()).c_str());
      *exit_code = absl::IsInvalidArgument(model.status()) ? 2 : 1;
      return;
    }
    a->model = *model;
    int rc = 0;
    for (const std::string& f : a->files) {
      const std::string label = a->files.size() > 1 ? f + " " : "";
      const int r = a->stream ? TranscribeStream(conn, *a, f, label) : TranscribeUnary(conn, *a, f);
      rc = std::max(rc, r);
    }
    *exit_code = rc;
  });
}

}  // namespace asr::client
