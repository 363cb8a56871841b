// Streaming and unary recognition end to end: the real asr-server (with a
// tiny model trained by asr-train on the tiny corpus and imported at
// start-up) and real clients over loopback.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "asr/v1/recognition.grpc.pb.h"
#include "asr/v1/training.grpc.pb.h"
#include "features/audio.h"
#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

using asr::v1::RecognitionService;
using Req = StreamRequest;
using Resp = StreamResponse;

// A tiny model, trained once per test process, with online CMN so that the
// streamed-vs-offline comparison covers the streaming pipeline's running
// mean as well as the model's batched one.
const std::string& TinyModel() {
  static const std::string path = [] {
    const std::string out = MakeTempDir("asr-model");
    nlohmann::json cfg = TinyTrainingConfig(900);  // ~25 s on one thread; dev CER ~0.3
    cfg["train_manifest"] = TinyCorpus() + "/train.jsonl";
    cfg["dev_manifest"] = TinyCorpus() + "/dev.jsonl";
    cfg["model"]["hidden_size"] = 96;
    cfg["model"]["online_cmn"] = {{"window", 600}, {"prior_frames", 200}};
    cfg["train"]["checkpoint_every_steps"] = 0;
    const auto r =
        RunProcess({BinPath("asr-train"), "--config", WriteJson(cfg), "--out", out, "--threads", "1"}, 900);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out + "/model.asrmodel";
  }();
  return path;
}

std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra = {}) {
  extra.push_back("--import-model");
  extra.push_back("digits=" + TinyModel());
  std::string why;
  auto s = ServerProcess::Start(extra, &why);
  EXPECT_NE(s, nullptr) << why;
  return s;
}

// Streams `messages` (config first) in lockstep with the server: after each
// audio message, reads until a response covers all audio sent but the last
// `slack_seconds` (the part of a chunk too short for a whole output frame),
// so that every chunk's interim result is read before the next chunk goes.
// Load cannot merge or drop interims this way, however slow the server.
StreamResult RunLockstepStream(const ServerProcess& s, const std::vector<Req>& messages, int rate,
                               double slack_seconds = 0.3) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  auto stub = RecognitionStub(s);
  auto rw = stub->StreamingRecognize(&ctx);
  StreamResult r;
  double sent = 0, covered = 0;
  bool open = true;
  for (const Req& m : messages) {
    if (!(open = rw->Write(m))) break;
    sent += static_cast<double>(m.audio().size()) / 2.0 / rate;
    Resp resp;
    while (covered < sent - slack_seconds && (open = rw->Read(&resp))) {
      covered = resp.processed_audio_seconds();
      r.responses.push_back(resp);
    }
    if (!open) break;
  }
  rw->WritesDone();
  Resp resp;
  while (rw->Read(&resp)) r.responses.push_back(resp);
  r.status = rw->Finish();
  return r;
}

TEST(RecognitionServiceTest, StreamedTranscriptsEqualOfflineEvalWithWordTimesWithin100ms) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  // Offline reference: asr-transcribe (the same decoder asr-eval uses) on the model file.
  int compared = 0, nonempty = 0;
  for (const std::string& f : TestFiles()) {
    const ProcessResult off = RunProcess({BinPath("asr-transcribe"), "--model", TinyModel(), "--json", f});
    ASSERT_EQ(off.exit_code, 0) << off.err;
    const auto ref = nlohmann::json::parse(off.out);
    int rate = 0;
    const std::string pcm = Pcm16(f, &rate);
    const StreamResult sr =
        RunStream(*server, Chunks(Linear16Config(rate), pcm, static_cast<size_t>(rate / 10 * 2)));
    ASSERT_TRUE(sr.status.ok()) << sr.status.error_message();
    const Resp& last = sr.responses.back();
    ASSERT_EQ(last.results_size(), 1);
    ASSERT_TRUE(last.results(0).is_final());
    const auto& alt = last.results(0).alternatives(0);
    EXPECT_EQ(alt.transcript(), ref["text"].get<std::string>()) << f;
    ASSERT_EQ(static_cast<size_t>(alt.words_size()), ref["words"].size()) << f;
    for (int w = 0; w < alt.words_size(); ++w) {
      const double start = alt.words(w).start_time().seconds() + alt.words(w).start_time().nanos() * 1e-9;
      const double end = alt.words(w).end_time().seconds() + alt.words(w).end_time().nanos() * 1e-9;
      EXPECT_NEAR(start, ref["words"][w]["start"].get<double>(), 0.1) << f;
      EXPECT_NEAR(end, ref["words"][w]["end"].get<double>(), 0.1) << f;
    }
    EXPECT_NEAR(last.processed_audio_seconds(), pcm.size() / 2.0 / rate, 0.1);
    EXPECT_EQ(last.model(), "digits:1");
    ++compared;
    nonempty += !alt.transcript().empty();
  }
  EXPECT_EQ(compared, 8);
  EXPECT_GE(nonempty, 6) << "the tiny model should transcribe most test utterances";
}

TEST(RecognitionServiceTest, InterimResultsEndpointsAndUnaryRecognize) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const auto files = TestFiles();
  int rate = 0;
  std::string pcm = Pcm16(files[0], &rate);
  const std::string second = Pcm16(files[1], &rate);
  pcm += std::string(static_cast<size_t>(rate) * 2 * 2, '\0') + second;  // 2 s of silence between utterances
  asr::v1::RecognitionConfig c = Linear16Config(rate);
  c.set_interim_results(true);
  c.mutable_endpoint()->set_silence_seconds(0.8);
  c.set_request_id("req-7");
  const StreamResult sr =
      RunLockstepStream(*server, Chunks(c, pcm, static_cast<size_t>(rate / 10 * 2)), rate);
  ASSERT_TRUE(sr.status.ok()) << sr.status.error_message();
  // Sent in lockstep, each utterance's chunks are decoded (and their
  // interims read) before its endpoint's final.
  int finals = 0, interims = 0, interims_this_utterance = 0;
  double last_processed = 0;
  for (const Resp& r : sr.responses) {
    EXPECT_EQ(r.request_id(), "req-7");
    EXPECT_GE(r.processed_audio_seconds(), last_processed);
    last_processed = r.processed_audio_seconds();
    for (const auto& res : r.results()) {
      if (res.is_final()) {
        EXPECT_EQ(res.utterance_index(), finals);
        EXPECT_GE(interims_this_utterance, 1) << "utterance " << finals;
        interims_this_utterance = 0;
        ++finals;
      } else {
        EXPECT_EQ(res.utterance_index(), finals);
        ++interims;
        ++interims_this_utterance;
        EXPECT_GE(res.stability(), 0.f);
        EXPECT_LE(res.stability(), 1.f);
      }
    }
  }
  EXPECT_EQ(finals, 2) << "one final per utterance, split by the endpoint";
  EXPECT_GE(interims, 2);
  // Unary Recognize of a whole file in its own container.
  asr::v1::RecognizeRequest req;
  req.mutable_config()->set_model("digits");
  std::ifstream in(files[0], std::ios::binary);
  req.set_audio(std::string(std::istreambuf_iterator<char>(in), {}));
  grpc::ClientContext ctx;
  asr::v1::RecognizeResponse resp;
  ASSERT_TRUE(RecognitionStub(*server)->Recognize(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.alternatives_size(), 1);
  EXPECT_EQ(resp.model(), "digits:1");
  // The client prints it too.
  const ProcessResult cli = server->Client({"transcribe", "--model", "digits", files[0]});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find(resp.alternatives(0).transcript()), std::string::npos) << cli.out;
  // Lexicon-constrained decoding emits only the model's training words, and
  // equals asr-transcribe --lexicon model offline.
  req.mutable_config()->set_lexicon_constrained(true);
  const std::set<std::string> digits = {"zero", "one",   "two",   "three", "four", "five",
                                        "six",  "seven", "eight", "nine",  "oh"};
  for (const std::string& f : files) {
    std::ifstream fin(f, std::ios::binary);
    req.set_audio(std::string(std::istreambuf_iterator<char>(fin), {}));
    grpc::ClientContext lctx;
    ASSERT_TRUE(RecognitionStub(*server)->Recognize(&lctx, req, &resp).ok());
    std::istringstream words(resp.alternatives(0).transcript());
    for (std::string w; words >> w;) EXPECT_TRUE(digits.count(w)) << resp.alternatives(0).transcript();
    const ProcessResult off =
        RunProcess({BinPath("asr-transcribe"), "--model", TinyModel(), "--lexicon", "model", "--json", f});
    ASSERT_EQ(off.exit_code, 0) << off.err;
    EXPECT_EQ(resp.alternatives(0).transcript(), nlohmann::json::parse(off.out)["text"].get<std::string>())
        << f;
  }
  // Boosted phrases reach the decoder: "oh" boosted hard changes some
  // transcript, the same way asr-transcribe --phrase does offline.
  req.mutable_config()->set_lexicon_constrained(false);
  asr::v1::Phrase* oh = req.mutable_config()->add_phrases();
  oh->set_text("oh");
  oh->set_boost(8);
  int changed = 0;
  for (const std::string& f : files) {
    std::ifstream fin(f, std::ios::binary);
    req.set_audio(std::string(std::istreambuf_iterator<char>(fin), {}));
    grpc::ClientContext bctx;
    ASSERT_TRUE(RecognitionStub(*server)->Recognize(&bctx, req, &resp).ok());
    const ProcessResult plain = RunProcess({BinPath("asr-transcribe"), "--model", TinyModel(), "--json", f});
    const ProcessResult boosted =
        RunProcess({BinPath("asr-transcribe"), "--model", TinyModel(), "--phrase", "oh:8", "--json", f});
    ASSERT_EQ(boosted.exit_code, 0) << boosted.err;
    const std::string text = nlohmann::json::parse(boosted.out)["text"].get<std::string>();
    EXPECT_EQ(resp.alternatives(0).transcript(), text) << f;
    changed += text != nlohmann::json::parse(plain.out)["text"].get<std::string>();
  }
  EXPECT_GE(changed, 1);
}

TEST(RecognitionServiceTest, BadInputIsInvalidArgumentAndLeavesOtherStreamsAlone) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  // A good stream runs slowly alongside all the bad ones.
  StreamResult good;
  std::thread good_thread([&] { good = RunStream(*server, Chunks(Linear16Config(rate), pcm, 3200), 20); });
  auto expect_invalid = [&](const std::vector<Req>& msgs, const std::string& needle) {
    const StreamResult r = RunStream(*server, msgs);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << needle << ": " << r.status.error_message();
    EXPECT_NE(r.status.error_message().find(needle), std::string::npos) << r.status.error_message();
  };
  Req audio;
  audio.set_audio(pcm.substr(0, 3200));
  Req config;
  *config.mutable_config() = Linear16Config(rate);
  expect_invalid({audio}, "audio before config");
  expect_invalid({config, audio, config}, "second config");
  Req unknown = config;
  unknown.mutable_config()->set_model("nope");
  expect_invalid({unknown}, "'nope' not found");
  Req enc = config;
  enc.mutable_config()->set_encoding(asr::v1::ENCODING_UNSPECIFIED);
  expect_invalid({enc}, "config.encoding");
  Req bogus_enc = config;
  bogus_enc.mutable_config()->set_encoding(static_cast<asr::v1::AudioEncoding>(42));
  expect_invalid({bogus_enc}, "config.encoding");
  for (int bad_rate : {0, -16000, 50000000}) {
    Req r = config;
    r.mutable_config()->set_sample_rate_hertz(bad_rate);
    expect_invalid({r}, "config.sample_rate_hertz");
  }
  // Phrases the model cannot spell (no letter of its units), or with a bad
  // boost, are named.
  Req unspellable = config;
  unspellable.mutable_config()->add_phrases()->set_text("seven");
  unspellable.mutable_config()->add_phrases()->set_text("42!");
  expect_invalid({unspellable}, "config.phrases[1].text: '42!' has no unit");
  Req bad_boost = config;
  asr::v1::Phrase* over = bad_boost.mutable_config()->add_phrases();
  over->set_text("seven");
  over->set_boost(11);
  expect_invalid({bad_boost}, "config.phrases[0].boost: 11 not in [0, 10]");
  Req odd;
  odd.set_audio(std::string(321, '\1'));
  expect_invalid({config, odd}, "321 bytes");
  Req garbage = config;
  garbage.mutable_config()->set_encoding(asr::v1::FLAC);
  Req junk;
  junk.set_audio(std::string(100, 'x'));
  expect_invalid({garbage, junk}, "audio stream");
  good_thread.join();
  ASSERT_TRUE(good.status.ok()) << good.status.error_message();
  EXPECT_TRUE(good.responses.back().results(0).is_final());
}

TEST(RecognitionServiceTest, CancelAndDisconnectFreeTheStream) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  for (bool cancel : {true, false}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    auto stub = RecognitionStub(*server);
    auto rw = stub->StreamingRecognize(ctx.get());
    Req config;
    *config.mutable_config() = Linear16Config(16000);
    rw->Write(config);
    Req audio;
    audio.set_audio(std::string(3200, '\0'));
    rw->Write(audio);
    ASSERT_TRUE(WaitUntil([&] { return Metric(*server, "asr_streams_active") == "1"; }))
        << "the stream never became active";
    if (cancel) {
      ctx->TryCancel();
      rw->Finish();
      rw.reset();
    } else {
      rw.reset();  // drop the call without finishing it
      stub.reset();
    }
    ctx.reset();
    // Well inside the 30 s idle timeout: only the cancel or disconnect can free it.
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(WaitUntil([&] { return Metric(*server, "asr_streams_active") == "0"; }, 20))
        << (cancel ? "cancel" : "disconnect");
    RecordProperty(
        cancel ? "freed_after_cancel_ms" : "freed_after_disconnect_ms",
        static_cast<int>(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()));
  }
  EXPECT_NE(Metric(*server, "asr_streams_total{code=\"CANCELLED\"}"), "");
}

// Idle means neither side made progress: a client that has sent a long
// recording fast and half-closed waits for the server, and must not be
// expired while the server still decodes.
TEST(RecognitionServiceTest, AClientWaitingAfterHalfCloseIsNotIdleWhileTheServerDecodes) {
  // No backpressure to speak of: the whole recording may wait to be decoded.
  auto server = StartServer({"--stream-idle-timeout", "0.25", "--stream-backlog-seconds", "3600"});
  ASSERT_NE(server, nullptr);
  int rate = 0;
  std::string clip;
  for (const std::string& f : TestFiles()) clip += Pcm16(f, &rate);
  std::string pcm;
  while (pcm.size() < static_cast<size_t>(rate) * 2 * 60 * 45) pcm += clip;  // 45 minutes of audio
  asr::v1::RecognitionConfig c = Linear16Config(rate);
  const std::vector<Req> messages = Chunks(c, pcm, static_cast<size_t>(rate) * 2);  // 1 s chunks, no pauses
  grpc::ClientContext ctx;
  auto stub = RecognitionStub(*server);
  auto rw = stub->StreamingRecognize(&ctx);
  std::vector<Resp> responses;
  std::thread reader([&] {
    Resp resp;
    while (rw->Read(&resp)) responses.push_back(resp);
  });
  for (const Req& m : messages) ASSERT_TRUE(rw->Write(m));
  rw->WritesDone();
  const auto half_closed = std::chrono::steady_clock::now();
  reader.join();
  const grpc::Status st = rw->Finish();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - half_closed).count();
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message() << " after " << waited << " s";
  // Otherwise the test proved nothing: the wait must outlast the idle
  // timeout plus the reaper's 0.5 s period, after which a timer counting
  // from the client's last message would have closed the stream.
  EXPECT_GT(waited, 0.8) << "decoding finished too fast to test the idle timer";
  ASSERT_FALSE(responses.empty());
  EXPECT_NEAR(responses.back().processed_audio_seconds(), static_cast<double>(pcm.size()) / 2 / rate, 0.1);
}

TEST(RecognitionServiceTest, BeyondMaxStreamsIsResourceExhaustedAndAdmittedStreamsCarryOn) {
  auto server = StartServer({"--max-streams", "3"});
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  // Three streams send their config and first chunk, then hold until the
  // fourth has been turned away, so all three are surely active meanwhile.
  std::vector<StreamResult> admitted(3);
  std::promise<void> release;
  const std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      const std::vector<Req> msgs = Chunks(Linear16Config(rate), pcm, 1600);
      grpc::ClientContext ctx;
      auto stub = RecognitionStub(*server);
      auto rw = stub->StreamingRecognize(&ctx);
      std::thread reader([&] {
        Resp resp;
        while (rw->Read(&resp)) admitted[i].responses.push_back(resp);
      });
      for (size_t m = 0; m < msgs.size() && rw->Write(msgs[m]); ++m) {
        if (m == 1) released.wait();
      }
      rw->WritesDone();
      reader.join();
      admitted[i].status = rw->Finish();
    });
  }
  const bool all_active = WaitUntil([&] { return Metric(*server, "asr_streams_active") == "3"; });
  EXPECT_TRUE(all_active) << "active: " << Metric(*server, "asr_streams_active");
  Req config;
  *config.mutable_config() = Linear16Config(rate);
  const StreamResult extra = all_active ? RunStream(*server, {config}) : StreamResult{};
  release.set_value();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(all_active);
  EXPECT_EQ(extra.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << extra.status.error_message();
  for (const StreamResult& r : admitted) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_TRUE(r.responses.back().results(0).is_final());
    EXPECT_EQ(r.responses.back().results(0).alternatives(0).transcript(),
              admitted[0].responses.back().results(0).alternatives(0).transcript());
  }
}

TEST(RecognitionServiceTest, NewModelVersionIsPickedUpWhileRunningStreamsKeepTheirs) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  asr::v1::RecognitionConfig c = Linear16Config(rate);
  c.set_interim_results(true);
  StreamResult running;
  std::thread t([&] { running = RunStream(*server, Chunks(c, pcm, 800), 25); });
  // Meanwhile: train a tiny job and publish it as a second version of "digits".

  std::filesystem::copy(TinyCorpus(), server->data_root + "/c", std::filesystem::copy_options::recursive);
  const ProcessResult train = server->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest", "c/train.jsonl", "--watch"}, 300);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = train.out.substr(0, train.out.find('\n'));
  ASSERT_EQ(server->Client({"publish", job, "digits"}).exit_code, 0);
  const StreamResult fresh = RunStream(*server, Chunks(Linear16Config(rate), pcm, 3200));
  t.join();
  ASSERT_TRUE(running.status.ok()) << running.status.error_message();
  for (const Resp& r : running.responses) EXPECT_EQ(r.model(), "digits:1");
  ASSERT_TRUE(fresh.status.ok());
  EXPECT_EQ(fresh.responses.back().model(), "digits:2");
}

TEST(RecognitionServiceTest, MemoryStaysFlatOverThousandsOfStreams) {
  auto server = StartServer({"--max-streams", "64"});
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate).substr(0, 16000);  // 0.5 s
  const std::vector<Req> msgs = Chunks(Linear16Config(rate), pcm, 3200);
  auto batch = [&](int n) {
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int w = 0; w < 8; ++w) {
      ts.emplace_back([&, w] {
        for (int i = w; i < n; i += 8) failures += !RunStream(*server, msgs).status.ok();
      });
    }
    for (auto& t : ts) t.join();
    return failures.load();
  };
  EXPECT_EQ(batch(300), 0);  // warm up allocators and caches
  const double before = std::stod(Metric(*server, "process_resident_memory_bytes"));
  EXPECT_EQ(batch(3000), 0);
  const double after = std::stod(Metric(*server, "process_resident_memory_bytes"));
  RecordProperty("rss_before_mb", std::to_string(before / 1048576));
  RecordProperty("rss_after_mb", std::to_string(after / 1048576));
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed blocks in a quarantine (64 MiB, set by
  // scripts/test.sh --sanitize) before reusing them: RSS grows by up to
  // that much without any leak.
  const double allowance = 64.0 * 1048576;
#else
  const double allowance = 0;
#endif
  EXPECT_LT(after - before, 16.0 * 1048576 + allowance)
      << "RSS grew from " << before / 1048576 << " MiB to " << after / 1048576 << " MiB over 3000 streams";
  EXPECT_EQ(Metric(*server, "asr_streams_active"), "0");
}

// Client-side balancing: given every replica's address (ipv4:A,B here, as
// dns:/// resolves a headless Service), asr-client spreads its streams
// over them round-robin; both replicas serve.
TEST(RecognitionServiceTest, ClientSideBalancingSpreadsStreamsOverReplicas) {
  auto a = StartServer({"--max-connection-age", "60"});
  auto b = StartServer({"--max-connection-age", "60"});
  ASSERT_TRUE(a && b);
  const std::string target = "ipv4:" + a->address() + "," + b->address();
  // 1 s chunks: the streams start staggered over a second, after the
  // channel has connected to both replicas (round_robin picks among ready
  // ones; streams that all start at once would meet only the first).
  const ProcessResult r =
      RunProcess({BinPath("asr-client"), "--server", target, "bench-stream", "--streams", "8", "--duration",
                  "3", "--chunk-ms", "1000", "--audio", TinyCorpus() + "/test.jsonl", "--model", "digits"},
                 120);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string on_a = Metric(*a, "asr_streams_total{code=\"OK\"}"),
                    on_b = Metric(*b, "asr_streams_total{code=\"OK\"}");
  EXPECT_NE(on_a, "") << "replica A served no stream";
  EXPECT_NE(on_b, "") << "replica B served no stream";
  if (!on_a.empty() && !on_b.empty()) {
    EXPECT_EQ(std::stoi(on_a) + std::stoi(on_b), 8);
  }
}

}  // namespace
}  // namespace asr::testing
