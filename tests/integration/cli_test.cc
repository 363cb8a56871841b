// asr-client and asr-server as a new user meets them (issue 32's "CLI
// without surprises"): inputs that are missing, on stdin or raw PCM; the
// model chosen for them; labelled, numbered and headed output; JSON with
// numbers for numbers; errors that name the state, suggest the command
// meant, and leave gRPC core's dumps out; per-checkpoint dev error rates.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stream_client.h"

namespace asr::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  // One server for the suite: the tiny model trained 900 steps (about 25 s
  // on one thread, dev CER ~0.3: it transcribes), validated every epoch
  // (24 steps) and at the end, published as "digits".
  static void SetUpTestSuite() {
    std::string why;
    server_ = ServerProcess::Start({}, &why).release();
    ASSERT_NE(server_, nullptr) << why;
    PlaceCorpus(*server_, "c");
    const ProcessResult train = server_->Client(
        {"train", "--config", WriteJson(TinyTrainingConfig(900)), "--manifest", "c/train.jsonl", "--watch"},
        600);
    ASSERT_EQ(train.exit_code, 0) << train.err;
    job_ = new std::string(FirstLine(train.out));
    ASSERT_EQ(server_->Client({"publish", *job_, "digits"}).exit_code, 0);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete job_;
  }
  // Runs `command` in a shell with $CLIENT set to asr-client --server ...
  static ProcessResult Shell(const std::string& command) {
    return RunProcess(
        {"/bin/sh", "-c",
         "CLIENT='" + BinPath("asr-client") + " --server " + server_->address() + "'; " + command},
        120);
  }
  static std::string Transcript(const ProcessResult& r) {  // of `--json transcribe` (unary)
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() && j.contains("alternatives") ? j["alternatives"][0].value("transcript", "") : "";
  }
  static ServerProcess* server_;
  static std::string* job_;
};
ServerProcess* CliTest::server_ = nullptr;
std::string* CliTest::job_ = nullptr;

TEST_F(CliTest, AMissingFileIsNamedUnaryAndStreamed) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"transcribe", "/no/such.wav"}, {"transcribe", "--stream", "/no/such.wav"}}) {
    const ProcessResult r = server_->Client(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot read '/no/such.wav': No such file or directory"), std::string::npos)
        << r.err;
  }
}

TEST_F(CliTest, StdinRawPcmAndTheDefaultModelGiveTheFilesTranscript) {
  const std::string wav = TestFiles()[0];
  const ProcessResult file = server_->Client({"--json", "transcribe", "--model", "digits", wav});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  const std::string expected = Transcript(file);
  ASSERT_FALSE(expected.empty()) << "the model transcribes";
  // No --model: the only published one.
  EXPECT_EQ(Transcript(server_->Client({"--json", "transcribe", wav})), expected);
  // stdin, unary.
  const ProcessResult piped = Shell("$CLIENT --json transcribe - < '" + wav + "'");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(Transcript(piped), expected);
  // Headerless LINEAR16 with --rate, unary and streamed.
  int rate = 0;
  const std::string raw = MakeTempDir() + "/audio.raw";
  std::ofstream(raw, std::ios::binary) << Pcm16(wav, &rate);
  const std::string r = std::to_string(rate);
  EXPECT_EQ(Transcript(server_->Client({"--json", "transcribe", "--encoding", "linear16", "--rate", r, raw})),
            expected);
  const ProcessResult streamed = server_->Client({"transcribe", "--stream", "--rate", r, "--no-words", raw});
  EXPECT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_NE(streamed.out.find("s] " + expected), std::string::npos) << streamed.out;
  const ProcessResult float32 = server_->Client({"transcribe", "--encoding", "float32", wav});
  EXPECT_EQ(float32.exit_code, 2);
  EXPECT_NE(float32.err.find("--rate"), std::string::npos) << float32.err;
}

// G.711 mu-law of 16-bit little-endian PCM (ITU-T G.711's encoder: bias
// 0x84, clip at 32635, bits inverted).
std::string Mulaw(const std::string& pcm16) {
  std::string out(pcm16.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int v = static_cast<int16_t>(static_cast<uint8_t>(pcm16[2 * i]) |
                                 (static_cast<uint8_t>(pcm16[2 * i + 1]) << 8));
    const int sign = v < 0 ? 0x80 : 0;
    v = std::min(std::abs(v), 32635) + 0x84;
    int exponent = 7;
    for (int mask = 0x4000; (v & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
    const int mantissa = (v >> (exponent + 3)) & 0x0F;
    out[i] = static_cast<char>(~(sign | (exponent << 4) | mantissa));
  }
  return out;
}

// Telephony audio: the test utterance as headerless mu-law, unary and
// streamed, transcribes to the same non-empty text.
TEST_F(CliTest, MulawAudioTranscribesUnaryAndStreamed) {
  int rate = 0;
  const std::string raw = MakeTempDir() + "/utt.ulaw";
  std::ofstream(raw, std::ios::binary) << Mulaw(Pcm16(TestFiles()[0], &rate));
  const std::string r = std::to_string(rate);
  const ProcessResult unary =
      server_->Client({"--json", "transcribe", "--encoding", "mulaw", "--rate", r, raw});
  ASSERT_EQ(unary.exit_code, 0) << unary.err;
  const std::string text = Transcript(unary);
  EXPECT_FALSE(text.empty()) << unary.out;
  const ProcessResult streamed =
      server_->Client({"transcribe", "--stream", "--no-words", "--encoding", "mulaw", "--rate", r, raw});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_NE(streamed.out.find("s] " + text + "\n"), std::string::npos) << streamed.out << " vs " << text;
  const ProcessResult no_rate = server_->Client({"transcribe", "--encoding", "alaw", raw});
  EXPECT_EQ(no_rate.exit_code, 2);
  EXPECT_NE(no_rate.err.find("give its --rate"), std::string::npos) << no_rate.err;
}

TEST_F(CliTest, SeveralPublishedModelsMakeModelRequiredNamingThem) {
  // A second server on a copy of nothing: publish two names there.
  std::string why;
  auto other = ServerProcess::Start({}, &why);
  ASSERT_NE(other, nullptr) << why;
  const ProcessResult none = other->Client({"transcribe", TestFiles()[0]});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no model is published yet"), std::string::npos) << none.err;
  const std::string model = MakeTempDir() + "/digits.asrmodel";
  ASSERT_EQ(server_->Client({"models", "download", "digits", "--out", model}).exit_code, 0);
  std::string why2;
  auto two =
      ServerProcess::Start({"--import-model", "alpha=" + model, "--import-model", "beta=" + model}, &why2);
  ASSERT_NE(two, nullptr) << why2;
  const ProcessResult r = two->Client({"transcribe", TestFiles()[0]});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model: required, several are published: alpha, beta"), std::string::npos) << r.err;
}

TEST_F(CliTest, OutputIsLabelledNumberedAndHeaded) {
  const std::vector<std::string> files = {TestFiles()[0], TestFiles()[1]};
  const ProcessResult streamed =
      server_->Client({"transcribe", "--stream", "--no-words", files[0], files[1]});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  for (const std::string& f : files)
    EXPECT_NE(streamed.out.find(f + " [  "), std::string::npos) << streamed.out;
  const ProcessResult nbest = server_->Client({"transcribe", "--alternatives", "3", "--no-words", files[0]});
  ASSERT_EQ(nbest.exit_code, 0) << nbest.err;
  EXPECT_NE(nbest.out.find(" s] #1 ("), std::string::npos) << nbest.out;
  EXPECT_NE(nbest.out.find("#2 ("), std::string::npos) << nbest.out;
  const ProcessResult words = server_->Client({"transcribe", files[0]});
  ASSERT_EQ(words.exit_code, 0);
  EXPECT_NE(words.out.find("  WORD "), std::string::npos) << words.out;
}

TEST_F(CliTest, JsonHasNumbersForIntegersAndMillisecondDurations) {
  const ProcessResult jobs = server_->Client({"--json", "jobs"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_NE(jobs.out.find("\"step\":900"), std::string::npos) << jobs.out;
  EXPECT_EQ(jobs.out.find("\"step\":\"900\""), std::string::npos) << jobs.out;
  const ProcessResult t = server_->Client({"--json", "transcribe", TestFiles()[0]});
  ASSERT_EQ(t.exit_code, 0);
  EXPECT_FALSE(std::regex_search(t.out, std::regex("\\.[0-9]{4,}s\""))) << "sub-millisecond noise: " << t.out;
  EXPECT_EQ(server_->Client({"--json", "health"}).out, "{\"status\":\"SERVING\"}\n");
}

TEST_F(CliTest, ErrorsNameTheStateAndSuggestTheCommandMeant) {
  const ProcessResult cancel = server_->Client({"cancel", *job_});
  EXPECT_EQ(cancel.exit_code, 1);
  EXPECT_NE(cancel.err.find("FAILED_PRECONDITION: job '" + *job_ + "' is SUCCEEDED"), std::string::npos)
      << cancel.err;
  EXPECT_EQ(server_->Client({"jobs", "--state", "succeeded"}).exit_code, 0) << "any case";
  const ProcessResult typo = server_->Client({"trnscribe", TestFiles()[0]});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'transcribe'?"), std::string::npos) << typo.err;
  const ProcessResult server_typo = RunProcess({BinPath("asr-server"), "--listne", "127.0.0.1:0"});
  EXPECT_EQ(server_typo.exit_code, 2);
  EXPECT_NE(server_typo.err.find("did you mean '--listen'?"), std::string::npos) << server_typo.err;
  EXPECT_NE(server_typo.err.find("--help"), std::string::npos) << server_typo.err;
  // A port in use: one clean line, not gRPC core's dump.
  const std::string dir = MakeTempDir();
  const ProcessResult busy =
      RunProcess({BinPath("asr-server"), "--listen", server_->address(), "--metrics-listen", "",
                  "--state-dir", dir + "/s", "--data-root", dir + "/d"},
                 60);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("listen: cannot serve gRPC on"), std::string::npos) << busy.err;
  EXPECT_EQ(busy.err.find("grpc"), std::string::npos) << busy.err;
}

// Recognize cuts a file into utterances where a stream's endpointing would
// (silence): one result each, with start and end times; greedy decoding
// gives the whole file's symbols when they are joined. Audio longer than
// Recognize takes is refused with a message that says to stream it.
TEST_F(CliTest, RecognizeReturnsOneResultPerUtteranceAndSendsLongAudioToStreaming) {
  int rate = 0;
  const std::string first = Pcm16(TestFiles()[0], &rate), second = Pcm16(TestFiles()[1], &rate);
  const double first_seconds = static_cast<double>(first.size()) / 2 / rate;
  const std::string raw = MakeTempDir() + "/two.raw";
  std::ofstream(raw, std::ios::binary)
      << first << std::string(static_cast<size_t>(rate) * 2 * 3 / 2, '\0') << second;
  const ProcessResult r = server_->Client({"--json", "transcribe", "--rate", std::to_string(rate), raw});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto resp = nlohmann::json::parse(r.out);
  ASSERT_EQ(resp["results"].size(), 2u) << r.out;
  auto seconds = [](const nlohmann::json& d) { return std::stod(d.get<std::string>()); };  // "1.320s"
  std::vector<std::string> texts;
  double last_end = 0;
  for (const auto& u : resp["results"]) {
    const double start = seconds(u["start_time"]), end = seconds(u["end_time"]);
    EXPECT_LE(last_end, start) << r.out;
    EXPECT_LT(start, end) << r.out;
    last_end = end;
    texts.push_back(u["alternatives"][0].value("transcript", ""));
  }
  EXPECT_LE(seconds(resp["results"][0]["end_time"]), first_seconds + 0.1);
  EXPECT_GE(seconds(resp["results"][1]["start_time"]), first_seconds + 1.0) << "after the 1.5 s of silence";
  // The same symbols (a character model may or may not emit a space in the silence).
  auto letters = [](std::string t) {
    t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
    return t;
  };
  EXPECT_EQ(letters(texts[0] + texts[1]), letters(resp["alternatives"][0].value("transcript", "")));
  EXPECT_FALSE(texts[0].empty() || texts[1].empty()) << r.out;
  const ProcessResult text =
      server_->Client({"transcribe", "--no-words", "--rate", std::to_string(rate), raw});
  EXPECT_NE(text.out.find(raw + " [  0."), std::string::npos) << text.out;
  // Streamed with speech events: begin, end, final, for each utterance, in time order.
  const ProcessResult events = server_->Client(
      {"--json", "transcribe", "--stream", "--speech-events", "--rate", std::to_string(rate), raw});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  std::string order;
  double last = 0;
  std::istringstream lines(events.out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("speech_event")) {
      order += j["speech_event"] == "SPEECH_BEGIN" ? 'B' : 'E';
      const double t = seconds(j["speech_event_time"]);
      EXPECT_LE(last, t) << line;
      last = t;
    } else if (j.contains("results") && j["results"][0].value("is_final", false)) {
      order += 'F';
      EXPECT_LE(last, seconds(j["results"][0]["result_end_time"])) << line;
    }
  }
  EXPECT_EQ(order, "BEFBEF") << events.out;
  // 601 s of silence at 8 kHz: 9.6 MB, within the message limit, over Recognize's 600 s.
  const std::string long_raw = MakeTempDir() + "/long.raw";
  std::ofstream(long_raw, std::ios::binary) << std::string(8000 * 2 * 601, '\0');
  const ProcessResult too_long = server_->Client({"transcribe", "--rate", "8000", long_raw});
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.err.find("OUT_OF_RANGE"), std::string::npos) << too_long.err;
  EXPECT_NE(too_long.err.find("stream longer recordings"), std::string::npos) << too_long.err;
}

// Each checkpoint's dev CER is its own validation's (-1 where none ran),
// and a model published from a checkpoint carries that step's CER and WER.
TEST_F(CliTest, CheckpointsAndPublishedStepsCarryTheirOwnDevErrorRates) {
  std::map<int64_t, std::pair<double, double>> validated;
  for (const asr::v1::JobEvent& e : AllEvents(*server_, *job_)) {
    if (e.has_validation()) validated[e.validation().step()] = {e.validation().cer(), e.validation().wer()};
  }
  ASSERT_GE(validated.size(), 2u);
  const ProcessResult list = server_->Client({"--json", "checkpoints", *job_});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto checkpoints = nlohmann::json::parse(list.out)["checkpoints"];
  int with_own = 0;
  for (const auto& c : checkpoints) {
    const int64_t step = c["step"].get<int64_t>();
    if (auto it = validated.find(step); it != validated.end()) {
      ++with_own;
      EXPECT_DOUBLE_EQ(c["dev_cer"].get<double>(), it->second.first) << step;
      EXPECT_DOUBLE_EQ(c["dev_wer"].get<double>(), it->second.second) << step;
    } else {
      EXPECT_EQ(c["dev_cer"].get<double>(), -1) << step;
    }
  }
  EXPECT_GE(with_own, 1) << list.out;
  const auto [step, rates] = *validated.rbegin();  // kept (the last checkpoints are)
  const ProcessResult published =
      server_->Client({"--json", "publish", *job_, "at-step", "--step", std::to_string(step)});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  const auto m = nlohmann::json::parse(published.out);
  EXPECT_DOUBLE_EQ(m["dev_cer"].get<double>(), rates.first);
  EXPECT_DOUBLE_EQ(m["dev_wer"].get<double>(), rates.second);
  EXPECT_NE(server_->Client({"checkpoints", *job_}).out.find("DEV CER"), std::string::npos);
}

}  // namespace
}  // namespace asr::testing
