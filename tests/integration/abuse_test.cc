// Issue 30's findings, one test each: clients and inputs that abuse a real
// asr-server over loopback. The model is trained only briefly: these tests
// look at slots, memory, CPU, time and errors, not at what the transcripts
// say.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sndfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

const std::string& QuickModel() {
  static const std::string path = [] {
    const std::string out = MakeTempDir("asr-model");
    nlohmann::json cfg = TinyTrainingConfig(20);
    cfg["train_manifest"] = TinyCorpus() + "/train.jsonl";
    cfg["dev_manifest"] = TinyCorpus() + "/dev.jsonl";
    cfg["train"]["checkpoint_every_steps"] = 0;
    const auto r =
        RunProcess({BinPath("asr-train"), "--config", WriteJson(cfg), "--out", out, "--threads", "1"}, 600);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out + "/model.asrmodel";
  }();
  return path;
}

std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> extra = {}) {
  extra.push_back("--import-model");
  extra.push_back("digits=" + QuickModel());
  std::string why;
  auto s = ServerProcess::Start(extra, &why);
  EXPECT_NE(s, nullptr) << why;
  return s;
}

// `minutes` of LINEAR16 audio: the test utterances over and over.
std::string LongPcm(double minutes, int* rate) {
  std::string clip;
  for (const std::string& f : TestFiles()) clip += Pcm16(f, rate);
  std::string pcm;
  const size_t want = static_cast<size_t>(minutes * 60 * *rate) * 2;
  while (pcm.size() < want) pcm += clip;
  pcm.resize(want);
  return pcm;
}

// A field of /proc/PID/status in bytes (VmRSS, VmHWM).
double ProcStatusBytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

// Finding 1: a client that stops reading (and sending) must not hold its
// slot. Its channel has a 1 KiB stream window that never grows, so the
// server's writes stall; without a cancel after the idle timeout plus the
// write deadline the stream would stay active forever.
TEST(AbuseTest, AClientThatReadsNothingLosesItsSlot) {
  auto server = StartServer({"--max-streams", "1", "--stream-idle-timeout", "1"});
  ASSERT_NE(server, nullptr);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = asr::v1::RecognitionService::NewStub(
      grpc::CreateCustomChannel(server->address(), grpc::InsecureChannelCredentials(), args));
  int rate = 0;
  const std::string pcm = LongPcm(0.5, &rate);
  asr::v1::RecognitionConfig c = Linear16Config(rate);
  c.set_interim_results(true);
  c.set_request_id(std::string(256, 'r'));  // the longest allowed, echoed in every response
  grpc::ClientContext ctx;
  auto rw = stub->StreamingRecognize(&ctx);
  for (const StreamRequest& m : Chunks(c, pcm, static_cast<size_t>(rate) * 2 * 30 / 1000))
    ASSERT_TRUE(rw->Write(m));
  // Now silent both ways: neither reads nor sends nor half-closes.
  const auto silent = Clock::now();
  ASSERT_EQ(Metric(*server, "asr_streams_active"), "1");
  EXPECT_TRUE(WaitUntil([&] { return Metric(*server, "asr_streams_active") == "0"; }, 30))
      << "the stream still holds its slot " << Since(silent) << " s after its client went silent";
  RecordProperty("slot_freed_after_ms", static_cast<int>(Since(silent) * 1000));
  // The slot serves a well-behaved client again.
  const StreamResult next = RunStream(*server, Chunks(Linear16Config(rate), pcm.substr(0, 32000), 3200));
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  ctx.TryCancel();
  rw->Finish();
}

// Finding 1 (continued): string fields are bounded, and the error names the
// field without echoing it.
TEST(AbuseTest, OversizedStringFieldsAreInvalidArgumentNamingTheField) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  asr::v1::RecognitionConfig long_id = Linear16Config(16000);
  long_id.set_request_id(std::string(400000, 'x'));
  asr::v1::RecognitionConfig long_model = Linear16Config(16000);
  long_model.set_model(std::string(100000, 'm'));
  for (const auto& [config, field] :
       {std::pair{long_id, "config.request_id"}, {long_model, "config.model"}}) {
    StreamRequest first;
    *first.mutable_config() = config;
    const StreamResult r = RunStream(*server, {first});
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_EQ(r.status.error_message().rfind(field, 0), 0u) << r.status.error_message().substr(0, 200);
    EXPECT_LT(r.status.error_message().size(), 200u);
  }
}

// Finding 3: backpressure. Three clients send 20 minutes of audio each as
// fast as loopback allows. The server stops reading a stream with more than
// 10 s of audio undecoded, so its peak memory stays within a bound per
// stream, and what the streams took is returned when they end.
TEST(AbuseTest, FastSendersOfLongAudioStayUnderAMemoryBound) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = LongPcm(20, &rate);
  const std::vector<StreamRequest> messages =
      Chunks(Linear16Config(rate), pcm, static_cast<size_t>(rate) * 2);
  ASSERT_TRUE(
      RunStream(*server, Chunks(Linear16Config(rate), pcm.substr(0, 64000), 3200)).status.ok());  // warm up
  const pid_t pid = server->process->pid();
  const double before = ProcStatusBytes(pid, "VmRSS");
  std::vector<std::thread> senders;
  std::vector<StreamResult> results(3);
  for (auto& r : results) senders.emplace_back([&] { r = RunStream(*server, messages); });
  for (auto& t : senders) t.join();
  const double peak = ProcStatusBytes(pid, "VmHWM");
  const double mib = 1048576;
  // Freed heap goes back to the system within the reaper's period (0.5 s).
  // What stays is 0.7-3.0 MiB over `before` (thread caches, pages of
  // libraries first touched); without the trim it was 8.6 MiB.
  const double kept = 5 * mib;
  WaitUntil([&] { return ProcStatusBytes(pid, "VmRSS") < before + kept; }, 5);
  const double after = ProcStatusBytes(pid, "VmRSS");
  for (const StreamResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_NEAR(r.responses.back().processed_audio_seconds(), pcm.size() / 2.0 / rate, 0.1);
  }
  RecordProperty("rss_before_mib", std::to_string(before / mib));
  RecordProperty("rss_peak_mib", std::to_string(peak / mib));
  RecordProperty("rss_after_mib", std::to_string(after / mib));
  // Unbounded, each stream would queue most of its 20 minutes as model
  // inputs (~38 MB each); bounded, a stream holds ~10 s of them plus a
  // message and gRPC's buffers.
  EXPECT_LT(peak - before, 3 * 8 * mib) << "peak " << peak / mib << " MiB from " << before / mib << " MiB";
  EXPECT_LT(after - before, kept) << "after " << after / mib << " MiB from " << before / mib << " MiB";
}

// `pcm` (LINEAR16 at `rate`) as a FLAC file's bytes, encoded by libsndfile.
std::string Flac(const std::string& pcm, int rate) {
  const std::string path = MakeTempDir() + "/a.flac";
  SF_INFO info{};
  info.channels = 1;
  info.samplerate = rate;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
  if (!f) return "";
  sf_writef_short(f, reinterpret_cast<const short*>(pcm.data()), static_cast<sf_count_t>(pcm.size() / 2));
  sf_close(f);
  return ReadFileOrEmpty(path);
}

// The server's CPU time so far (utime + stime), seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Finding 4: a FLAC stream is decoded as it arrives, not re-decoded whole
// per 16 KiB. Four times the audio costs the server about four times the
// CPU (the quadratic decoder took ~10x from 2 to 8 minutes); the same
// audio as LINEAR16 is the yardstick of the run. A complexity check, not a
// timing: scripts/bench-stream-codecs.sh measures the costs.
TEST(AbuseTest, AFlacStreamCostsTimeLinearInItsLength) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = LongPcm(8, &rate);
  const pid_t pid = server->process->pid();
  asr::v1::RecognitionConfig flac_config = Linear16Config(rate);
  flac_config.set_encoding(asr::v1::FLAC);
  flac_config.set_sample_rate_hertz(0);
  auto cpu_of = [&](const std::vector<StreamRequest>& messages) {
    const double before = CpuSeconds(pid);
    const StreamResult r = RunStream(*server, messages);
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return CpuSeconds(pid) - before;
  };
  const std::string two = pcm.substr(0, pcm.size() / 4);
  const double flac2 = cpu_of(Chunks(flac_config, Flac(two, rate), 16384));
  const double flac8 = cpu_of(Chunks(flac_config, Flac(pcm, rate), 16384));
  const double linear8 = cpu_of(Chunks(Linear16Config(rate), pcm, static_cast<size_t>(rate) * 2));
  RecordProperty("flac_2min_cpu_ms", static_cast<int>(flac2 * 1000));
  RecordProperty("flac_8min_cpu_ms", static_cast<int>(flac8 * 1000));
  RecordProperty("linear16_8min_cpu_ms", static_cast<int>(linear8 * 1000));
  EXPECT_LT(flac8, 6 * flac2) << "2 min: " << flac2 << " s, 8 min: " << flac8 << " s of server CPU";
  EXPECT_LT(flac8, 3 * linear8) << "FLAC " << flac8 << " s vs LINEAR16 " << linear8 << " s for 8 minutes";
}

// Finding 6: manifest audio outside the data root is refused at upload,
// before it is opened, and no message shows the data root.
TEST(AbuseTest, UploadedManifestsCannotPointOutsideTheDataRoot) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string dir = MakeTempDir("asr-upload");
  std::filesystem::copy_file(TestFiles()[0], dir + "/a.wav");
  for (const std::string outside : {"/etc/passwd", "/etc/no-such-file.wav", "../../../../outside.wav"}) {
    std::ofstream(dir + "/train.jsonl") << R"({"audio_filepath": "a.wav", "duration": 1, "text": "oh"})"
                                        << "\n"
                                        << R"({"audio_filepath": ")" << outside << R"(", "text": "oh"})"
                                        << "\n";
    const ProcessResult r = server->Client({"upload", dir});
    EXPECT_NE(r.exit_code, 0) << outside;
    EXPECT_NE(r.err.find("train.jsonl:2: audio file '" + outside + "' is outside the data root"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find(server->data_root), std::string::npos) << r.err;
  }
  EXPECT_TRUE(std::filesystem::is_empty(server->data_root + "/datasets")) << "nothing stored";
}

// Finding 10 (TLS): a bad certificate or key is named at start-up (not
// "address in use"), and the client refuses a --tls-ca it cannot use
// instead of falling back to the system roots.
TEST(AbuseTest, TlsMisconfigurationIsNamed) {
  const std::string dir = MakeTempDir("asr-tls");
  auto make_pair = [&](const std::string& name) {
    const ProcessResult r =
        RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  make_pair("a");
  make_pair("b");
  std::ofstream(dir + "/junk.pem") << "not a certificate\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--tls-cert", dir + "/a.pem", "--tls-key", dir + "/b.key"}, "is not the key of the certificate"},
      {{"--tls-cert", dir + "/junk.pem", "--tls-key", dir + "/a.key"}, "holds no PEM certificate"},
      {{"--tls-cert", dir + "/a.pem", "--tls-key", dir + "/junk.pem"}, "holds no PEM private key"},
  };
  for (const auto& [args, says] : bad) {
    std::string why;
    EXPECT_EQ(ServerProcess::Start(args, &why), nullptr) << says;
    EXPECT_NE(why.find(says), std::string::npos) << why;
    EXPECT_EQ(why.find("address in use"), std::string::npos) << why;
  }
  std::string why;
  auto server = ServerProcess::Start({"--tls-cert", dir + "/a.pem", "--tls-key", dir + "/a.key"}, &why);
  ASSERT_NE(server, nullptr) << why;
  const ProcessResult good = server->Client({"--tls-ca", dir + "/a.pem", "health"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  const ProcessResult other = server->Client({"--tls-ca", dir + "/b.pem", "health"});
  EXPECT_NE(other.exit_code, 0) << "a certificate the server's does not chain to";
  for (const auto& [ca, says] :
       {std::pair{dir + "/missing.pem", "cannot read"}, {dir + "/junk.pem", "holds no PEM certificate"}}) {
    const ProcessResult r = server->Client({"--tls-ca", ca, "health"});
    EXPECT_EQ(r.exit_code, 2) << ca;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
}

// The log an operator reads: job transitions, checkpoints, validations,
// uploads, publishes, cancels, refused requests and streams, and shutdown,
// each at info (or warn) level, not only at debug.
TEST(AbuseTest, OperatorEventsAreLoggedAtInfo) {
  auto server = StartServer({"--max-streams", "1"});
  ASSERT_NE(server, nullptr);
  PlaceCorpus(*server, "c");
  const ProcessResult up = server->Client({"upload", TinyCorpus()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const ProcessResult done = server->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest", "c/train.jsonl", "--watch"}, 300);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const std::string finished = FirstLine(done.out);
  ASSERT_EQ(server->Client({"publish", finished, "digits"}).exit_code, 0);
  const ProcessResult long_job = server->Client(
      {"train", "--config", WriteJson(TinyTrainingConfig(100000)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(long_job.exit_code, 0) << long_job.err;
  const std::string cancelled = FirstLine(long_job.out);
  ASSERT_TRUE(WaitFor(
      *server, cancelled, [](const asr::v1::Job& j) { return j.state() == asr::v1::RUNNING; }, 120));
  ASSERT_EQ(server->Client({"cancel", cancelled}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      *server, cancelled, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 120));
  nlohmann::json bad = TinyTrainingConfig(5);
  bad["optimizer"]["lr"] = 5;
  EXPECT_NE(server->Client({"train", "--config", WriteJson(bad), "--manifest", "c/train.jsonl"}).exit_code,
            0);
  // One stream holds the only slot while a second is refused.
  grpc::ClientContext ctx;
  auto stub = RecognitionStub(*server);
  auto rw = stub->StreamingRecognize(&ctx);
  StreamRequest config;
  *config.mutable_config() = Linear16Config(16000);
  ASSERT_TRUE(rw->Write(config));
  ASSERT_TRUE(WaitUntil([&] { return Metric(*server, "asr_streams_active") == "1"; }));
  EXPECT_EQ(RunStream(*server, {config}).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(
      WaitUntil([&] { return server->process->log().find("refused 1 stream") != std::string::npos; }, 5))
      << "the reaper reports refusals within its period";
  ctx.TryCancel();
  rw->Finish();
  ASSERT_TRUE(server->process->Signal(SIGTERM));
  EXPECT_EQ(server->process->WaitFor(60), 0);
  const std::string log = server->process->log();
  for (const std::string& line : std::vector<std::string>{
           " info .*dataset ds-[0-9a-f]+ \\('.*'\\) uploaded: [0-9]+ files, [0-9]+ bytes",
           " info .*job " + finished + ": QUEUED", " info .*job " + finished + ": RUNNING",
           " info .*job " + finished + ": checkpoint at step 5 written in",
           " info .*job " + finished + ": validation at step [0-9]+: dev CER",
           " info .*job " + finished + ": SUCCEEDED", " info .*model digits:2 published from job " + finished,
           " info .*job " + cancelled + ": cancel requested", " info .*job " + cancelled + ": CANCELLED",
           " info .*CreateTrainingJob refused: INVALID_ARGUMENT: .*lr",
           " warning .*refused 1 stream\\(s\\) \\(RESOURCE_EXHAUSTED\\)",
           " info .*received SIGTERM, shutting down", " info .*stopped"}) {
    EXPECT_TRUE(std::regex_search(log, std::regex(line))) << "no line matching '" << line << "' in\n" << log;
  }
}

// Finding 8: idle connections cannot hold off a scrape.
TEST(AbuseTest, MetricsAnswerWhileTenIdleConnectionsAreHeld) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto connect_idle = [&] {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server->metrics_port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char partial[] = "GET /metr";  // a request that never completes
    EXPECT_EQ(send(fd, partial, sizeof partial - 1, 0), static_cast<ssize_t>(sizeof partial - 1));
    return fd;
  };
  double slowest = 0;
  int answered = 0;
  for (int round = 0; round < 5; ++round) {  // fresh idle connections each round, as an attacker renews them
    std::vector<int> idle;
    for (int i = 0; i < 10; ++i) idle.push_back(connect_idle());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto t = Clock::now();
    answered +=
        HttpGet("127.0.0.1", server->metrics_port, "/metrics").find("asr_build_info") != std::string::npos;
    slowest = std::max(slowest, Since(t));
    for (int fd : idle) close(fd);
  }
  RecordProperty("slowest_scrape_ms", static_cast<int>(slowest * 1000));
  EXPECT_EQ(answered, 5);
  // The requirement is one second; the margin is for a loaded CI machine.
  // Unfixed, the scrape waited for the idle connections (~30 s).
  EXPECT_LT(slowest, 3.0);
}

// Finding 10: Recognize and StreamingRecognize validate a config with one
// function: the same bad field gets the same code and message from both.
TEST(AbuseTest, RecognizeAndStreamingRecognizeRejectTheSameConfigsAlike) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int rate = 0;
  const std::string pcm = Pcm16(TestFiles()[0], &rate);
  struct Bad {
    std::string field;
    std::function<void(asr::v1::RecognitionConfig*)> set;
  };
  const std::vector<Bad> bad = {
      {"config.audio_channel_count", [](auto* c) { c->set_audio_channel_count(-5); }},
      {"config.encoding", [](auto* c) { c->set_encoding(static_cast<asr::v1::AudioEncoding>(99)); }},
      {"config.model_version", [](auto* c) { c->set_model_version(-1); }},
      {"config.model", [](auto* c) { c->set_model_version(7); }},
      {"config.max_alternatives", [](auto* c) { c->set_max_alternatives(11); }},
      {"config.endpoint.silence_seconds", [](auto* c) { c->mutable_endpoint()->set_silence_seconds(61); }},
      {"config.sample_rate_hertz", [](auto* c) { c->set_sample_rate_hertz(0); }},
  };
  for (const Bad& b : bad) {
    asr::v1::RecognitionConfig c = Linear16Config(rate);
    b.set(&c);
    asr::v1::RecognizeRequest req;
    *req.mutable_config() = c;
    req.set_audio(pcm);
    grpc::ClientContext ctx;
    asr::v1::RecognizeResponse resp;
    const grpc::Status unary = RecognitionStub(*server)->Recognize(&ctx, req, &resp);
    const StreamResult stream = RunStream(*server, Chunks(c, pcm, 3200));
    EXPECT_EQ(unary.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << b.field << ": " << unary.error_message();
    EXPECT_EQ(unary.error_message().rfind(b.field, 0), 0u) << unary.error_message();
    EXPECT_EQ(stream.status.error_code(), unary.error_code()) << b.field;
    EXPECT_EQ(stream.status.error_message(), unary.error_message()) << b.field;
  }
}

}  // namespace
}  // namespace asr::testing
