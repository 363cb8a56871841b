// RecognitionStream without a server: option errors, audio errors, the
// result logic (interim results, endpoint finals, the final at the end,
// single utterance, EndUtterance) driven by scripted model outputs, the
// ready hook, and real decoding: a streamed recording gives the offline
// transcript.
#include "model/recognizer/recognition_stream.h"

#include <gtest/gtest.h>

#include <functional>

#include "model/recognizer/recognizer.h"
#include "tests/model/recognizer/test_model.h"

namespace asr::testing {
namespace {

StreamOptions Linear16(int rate = 16000) {
  StreamOptions o;
  o.audio.encoding = AudioEncoding::kLinear16;
  o.audio.sample_rate_hertz = rate;
  return o;
}

std::unique_ptr<RecognitionStream> MakeStream(const StreamOptions& o, StreamLimits limits = {}) {
  auto s = RecognitionStream::Create(RandomModel(1, "random:1"), o, limits);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string Silence(double seconds) {
  const std::vector<float> zeros(static_cast<size_t>(seconds * 16000), 0.f);
  return Pcm16(zeros.data(), zeros.size());
}

// Log-probabilities [vocab] putting 0.97 on `id`.
std::vector<float> Peaked(int64_t vocab, int64_t id) {
  std::vector<float> lp(static_cast<size_t>(vocab), std::log(0.03f / static_cast<float>(vocab - 1)));
  lp[static_cast<size_t>(id)] = std::log(0.97f);
  return lp;
}

// Decodes every queued input, the i-th (counted over the stream's life)
// as `script(i)` says, then settles.
void DecodeScripted(RecognitionStream& s, int64_t* counter, const std::function<int64_t(int64_t)>& script) {
  const int64_t vocab = s.model().network->vocabulary().size();
  std::vector<float> x;
  while (s.PopInput(&x)) {
    const std::vector<float> lp = Peaked(vocab, script((*counter)++));
    s.AcceptLogProbs(lp.data(), vocab);
  }
  s.Settle();
}

std::string Best(const RecognitionResult& r) { return r.alternatives.at(0).text; }

TEST(RecognitionStreamTest, BadOptionsNameTheField) {
  const std::vector<std::pair<std::string, std::function<void(StreamOptions&)>>> cases = {
      {"encoding: required", [](StreamOptions& o) { o.audio.encoding = AudioEncoding::kUnspecified; }},
      {"encoding: unsupported value 42",
       [](StreamOptions& o) { o.audio.encoding = static_cast<AudioEncoding>(42); }},
      {"sample_rate_hertz: 0", [](StreamOptions& o) { o.audio.sample_rate_hertz = 0; }},
      {"sample_rate_hertz: 500000", [](StreamOptions& o) { o.audio.sample_rate_hertz = 500000; }},
      {"audio_channel_count: 33", [](StreamOptions& o) { o.audio.audio_channel_count = 33; }},
      {"max_alternatives: 11", [](StreamOptions& o) { o.decoding.max_alternatives = 11; }},
      {"endpoint.silence_seconds", [](StreamOptions& o) { o.endpoint.silence_seconds = 61; }},
      {"endpoint.silence_seconds", [](StreamOptions& o) { o.endpoint.silence_seconds = NAN; }},
  };
  for (const auto& [needle, mutate] : cases) {
    StreamOptions o = Linear16();
    mutate(o);
    auto s = RecognitionStream::Create(RandomModel(1, "random:1"), o);
    ASSERT_FALSE(s.ok()) << needle;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_EQ(s.status().message().find(needle), 0u) << s.status();
  }
  auto bi = RecognitionStream::Create(RandomModel(1, "bi:1", /*bidirectional=*/true), Linear16());
  EXPECT_EQ(bi.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bi.status().message().find("'bi:1' is bidirectional and cannot stream"), std::string::npos);
  StreamOptions lexicon = Linear16();
  lexicon.decoding.lexicon_constrained = true;
  auto lex = RecognitionStream::Create(RandomModel(1, "random:1"), lexicon);
  EXPECT_EQ(lex.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(lex.status().message().find("lexicon_constrained: model random:1 records no lexicon"), 0u)
      << lex.status();
}

TEST(RecognitionStreamTest, BadAudioIsAnErrorNamingIt) {
  StreamLimits limits;
  limits.max_stream_seconds = 2;
  limits.max_chunk_bytes = 64000;
  auto s = MakeStream(Linear16(), limits);
  const absl::Status odd = s->AcceptAudio(std::string(321, '\1'));
  EXPECT_EQ(odd.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(odd.message().find("321 bytes"), std::string::npos) << odd;
  const absl::Status big = s->AcceptAudio(std::string(64002, '\0'));
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.message().find("exceeds 64000"), std::string::npos) << big;
  ASSERT_TRUE(s->AcceptAudio(Silence(1.5)).ok());
  EXPECT_EQ(s->AcceptAudio(Silence(1.0)).code(), absl::StatusCode::kOutOfRange);
  auto t = MakeStream(Linear16());
  ASSERT_TRUE(t->InputFinished().ok());
  EXPECT_EQ(t->AcceptAudio(Silence(0.1)).code(), absl::StatusCode::kInvalidArgument);
  StreamOptions flac = Linear16();
  flac.audio.encoding = AudioEncoding::kFlac;
  // Bytes that cannot start a FLAC stream fail at once; a stream that
  // starts well but ends early fails at the end of input.
  const absl::Status junk = MakeStream(flac)->AcceptAudio(std::string(100, 'x'));
  EXPECT_EQ(junk.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(junk.message().find("'audio stream': not a FLAC stream"), std::string::npos) << junk;
  auto f = MakeStream(flac);
  ASSERT_TRUE(f->AcceptAudio("fLaC").ok()) << "incomplete, not yet an error";
  const absl::Status truncated = f->InputFinished();
  EXPECT_EQ(truncated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(truncated.message().find("'audio stream': truncated FLAC stream"), std::string::npos)
      << truncated;
}

TEST(RecognitionStreamTest, InterimEndpointAndFinalResultsFollowTheModelOutputs) {
  StreamOptions o = Linear16();
  o.interim_results = true;
  o.endpoint.silence_seconds = 0.3;  // 10 output frames of 30 ms
  auto s = MakeStream(o);
  const Vocabulary& v = s->model().network->vocabulary();
  const int64_t a = v.Id('a'), b = v.Id('b');
  int64_t counter = 0;
  // Chunk 1: "a" on three frames, then silence past the endpoint.
  ASSERT_TRUE(s->AcceptAudio(Silence(0.6)).ok());
  const int64_t first = static_cast<int64_t>(s->PendingInputs());
  ASSERT_GE(first, 15);
  EXPECT_TRUE(s->IsReady());
  DecodeScripted(*s, &counter, [&](int64_t i) { return i < 3 ? a : Vocabulary::kBlank; });
  std::vector<RecognitionResult> r = s->TakeResults();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].is_final);
  EXPECT_EQ(Best(r[0]), "a");
  EXPECT_EQ(r[0].utterance_index, 0);
  EXPECT_NEAR(r[0].end_seconds, 13 * 0.03, 1e-9) << "the endpoint: 3 frames of speech + 10 blank";
  EXPECT_FALSE(r[1].is_final) << "the rest of the chunk, decoded: an interim of the next utterance";
  EXPECT_EQ(Best(r[1]), "");
  EXPECT_EQ(r[1].utterance_index, 1);
  EXPECT_FALSE(s->IsReady());
  // Chunk 2: ends on "b"; then the input ends before an endpoint.
  ASSERT_TRUE(s->AcceptAudio(Silence(0.3)).ok());
  const int64_t end = first + static_cast<int64_t>(s->PendingInputs());
  DecodeScripted(*s, &counter, [&](int64_t i) { return i >= end - 2 ? b : Vocabulary::kBlank; });
  r = s->TakeResults();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].is_final);
  EXPECT_EQ(Best(r[0]), "b");
  EXPECT_FLOAT_EQ(r[0].stability, 0.f);
  ASSERT_TRUE(s->InputFinished().ok());
  EXPECT_TRUE(s->IsReady());
  DecodeScripted(*s, &counter, [](int64_t) { return Vocabulary::kBlank; });
  r = s->TakeResults();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].is_final);
  EXPECT_EQ(Best(r[0]), "b");
  EXPECT_EQ(r[0].utterance_index, 1);
  EXPECT_DOUBLE_EQ(r[0].processed_seconds, 0.9);
  EXPECT_TRUE(s->IsFinished());
  EXPECT_FALSE(s->IsReady());
}

TEST(RecognitionStreamTest, SingleUtteranceEndsTheStreamAtItsFirstFinal) {
  StreamOptions o = Linear16();
  o.endpoint.silence_seconds = 0.3;
  o.endpoint.single_utterance = true;
  auto s = MakeStream(o);
  const int64_t a = s->model().network->vocabulary().Id('a');
  int64_t counter = 0;
  ASSERT_TRUE(s->AcceptAudio(Silence(0.6)).ok());
  DecodeScripted(*s, &counter, [&](int64_t i) { return i < 2 ? a : Vocabulary::kBlank; });
  const auto r = s->TakeResults();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].is_final);
  EXPECT_TRUE(r[0].end_of_single_utterance);
  EXPECT_TRUE(s->IsFinished());
  EXPECT_TRUE(s->AcceptAudio(Silence(0.3)).ok()) << "audio after the end is ignored";
  EXPECT_FALSE(s->IsReady());
  EXPECT_TRUE(s->TakeResults().empty());
}

TEST(RecognitionStreamTest, EndUtteranceMakesAFinalAtTheNextDecode) {
  StreamOptions o = Linear16();
  o.endpoint.silence_seconds = -1;  // no endpointing
  auto s = MakeStream(o);
  const int64_t a = s->model().network->vocabulary().Id('a');
  int64_t counter = 0;
  ASSERT_TRUE(s->AcceptAudio(Silence(0.3)).ok());
  DecodeScripted(*s, &counter, [&](int64_t i) { return i < 2 ? a : Vocabulary::kBlank; });
  EXPECT_TRUE(s->TakeResults().empty()) << "no endpoint, no interim results asked for";
  s->EndUtterance();
  EXPECT_TRUE(s->IsReady());
  DecodeScripted(*s, &counter, [](int64_t) { return Vocabulary::kBlank; });
  auto r = s->TakeResults();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].is_final);
  EXPECT_EQ(Best(r[0]), "a");
  EXPECT_EQ(r[0].utterance_index, 0);
  ASSERT_TRUE(s->InputFinished().ok());
  DecodeScripted(*s, &counter, [](int64_t) { return Vocabulary::kBlank; });
  EXPECT_TRUE(s->TakeResults().empty()) << "the second utterance heard nothing: no final for it";
  EXPECT_TRUE(s->IsFinished());
}

TEST(RecognitionStreamTest, ReadySinceIsTheOldestWorkAndTheWakeHookFiresWhenWorkAppears) {
  using Clock = RecognitionStream::Clock;
  auto s = MakeStream(Linear16());
  int wakes = 0;
  s->SetWakeHook([&] { ++wakes; });
  EXPECT_EQ(s->ready_since(), Clock::time_point::max()) << "no work yet";
  const auto before = Clock::now();
  ASSERT_TRUE(s->AcceptAudio(Silence(0.2)).ok());
  EXPECT_EQ(wakes, 1);
  const Clock::time_point first = s->ready_since();
  EXPECT_GE(first, before);
  EXPECT_LE(first, Clock::now());
  ASSERT_TRUE(s->AcceptAudio(Silence(0.2)).ok());
  EXPECT_EQ(wakes, 1) << "work arrived while there was some: no wake";
  EXPECT_EQ(s->ready_since(), first) << "the oldest work decides";
  int64_t counter = 0;
  DecodeScripted(*s, &counter, [](int64_t) { return Vocabulary::kBlank; });
  EXPECT_EQ(s->ready_since(), Clock::time_point::max());
  ASSERT_TRUE(s->InputFinished().ok());
  EXPECT_EQ(wakes, 2) << "the end of input is work: the final result";
  EXPECT_NE(s->ready_since(), Clock::time_point::max());
}

// The streamed recording, in 100 ms chunks, decoded step by step with the
// real model, against the whole recording decoded offline.
TEST(RecognitionStreamTest, StreamedRecordingGivesTheOfflineTranscript) {
  const auto model = RandomModel(7, "random:7");
  const std::string pcm = Pcm16(Speech().samples.data(), Speech().samples.size());
  StreamOptions o = Linear16();
  o.endpoint.silence_seconds = -1;
  o.decoding.word_time_offsets = true;
  auto s = RecognitionStream::Create(model, o);
  ASSERT_TRUE(s.ok()) << s.status();
  for (size_t off = 0; off < pcm.size(); off += 3200) {
    ASSERT_TRUE((*s)->AcceptAudio(pcm.substr(off, 3200)).ok());
    while ((*s)->IsReady()) DecodeStreams({s->get()});
  }
  ASSERT_TRUE((*s)->InputFinished().ok());
  while ((*s)->IsReady()) DecodeStreams({s->get()});
  ASSERT_TRUE((*s)->IsFinished());
  const auto results = (*s)->TakeResults();
  ASSERT_EQ(results.size(), 1u);
  const auto offline = Recognize(*model, pcm, o.audio, o.decoding);
  ASSERT_TRUE(offline.ok()) << offline.status();
  const Transcript& streamed = results[0].alternatives.at(0);
  ASSERT_FALSE(streamed.text.empty()) << "the scaled random model speaks";
  EXPECT_EQ(streamed.text, offline->alternatives.at(0).text);
  ASSERT_EQ(streamed.words.size(), offline->alternatives.at(0).words.size());
  for (size_t i = 0; i < streamed.words.size(); ++i) {
    EXPECT_DOUBLE_EQ(streamed.words[i].start_seconds, offline->alternatives[0].words[i].start_seconds);
    EXPECT_DOUBLE_EQ(streamed.words[i].end_seconds, offline->alternatives[0].words[i].end_seconds);
  }
  EXPECT_NEAR(offline->audio_seconds, Speech().duration_seconds(), 1e-9);
  EXPECT_NEAR(results[0].processed_seconds, Speech().duration_seconds(), 1e-9);
}

}  // namespace
}  // namespace asr::testing
