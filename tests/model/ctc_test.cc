// CTC loss semantics and decoding: greedy and prefix beam search, word
// timings, confidence, incremental = offline, endpoint bookkeeping.
#include "model/ctc.h"

#include <gtest/gtest.h>

#include <cmath>

namespace asr {
namespace {

// Log-probabilities [T, V] where each frame puts probability `p` on the
// given symbol (character, or '_' for blank) and spreads the rest evenly.
torch::Tensor Frames(const Vocabulary& v, const std::string& symbols, float p = 0.9f) {
  torch::Tensor lp = torch::full({static_cast<int64_t>(symbols.size()), v.size()}, (1 - p) / (v.size() - 1));
  for (size_t t = 0; t < symbols.size(); ++t) {
    const int64_t id = symbols[t] == '_' ? Vocabulary::kBlank : v.Id(symbols[t]);
    lp[static_cast<int64_t>(t)][id] = p;
  }
  return lp.log();
}

TEST(CtcTest, LossIsMeanOverTargetLengthsAndZeroInfinity) {
  torch::manual_seed(1);
  const torch::Tensor lp = torch::randn({12, 3, 5}).log_softmax(2);
  const torch::Tensor targets = torch::tensor({{1, 2, 3}, {2, 2, 0}, {4, 0, 0}});
  const torch::Tensor in_len = torch::tensor({12, 10, 8}), tgt_len = torch::tensor({3, 2, 1});
  const torch::Tensor per = at::ctc_loss(lp, targets, in_len, tgt_len, 0, at::Reduction::None, false);
  const double expected = ((per / tgt_len.to(torch::kFloat)).mean()).item<double>();
  EXPECT_NEAR(CtcLoss(lp, targets, in_len, tgt_len).item<double>(), expected, 1e-6);
  // Three frames cannot hold "aa" + blank + "a": infinite loss becomes 0.
  const torch::Tensor impossible = CtcLoss(lp.narrow(0, 0, 3).narrow(1, 0, 1), torch::tensor({{1, 1, 1}}),
                                           torch::tensor({3}), torch::tensor({3}));
  EXPECT_EQ(impossible.item<double>(), 0.0);
}

TEST(CtcTest, GreedyCollapsesRepeatsAndBlanksWithWordTimes) {
  const Vocabulary v;
  // frames:          0123456789...
  const std::string f = "__hh_i__  ___yo_u_";
  const Transcript t = CtcDecode(Frames(v, f), v, {1, 0.04});
  EXPECT_EQ(t.text, "hi you");
  ASSERT_EQ(t.words.size(), 2u);
  EXPECT_EQ(t.words[0].word, "hi");
  EXPECT_NEAR(t.words[0].start_seconds, 2 * 0.04, 1e-9);  // first 'h' at frame 2
  EXPECT_NEAR(t.words[0].end_seconds, 6 * 0.04, 1e-9);    // 'i' at frame 5
  EXPECT_EQ(t.words[1].word, "you");
  EXPECT_NEAR(t.words[1].start_seconds, 13 * 0.04, 1e-9);
  EXPECT_NEAR(t.words[1].end_seconds, 17 * 0.04, 1e-9);  // 'u' at frame 16
  EXPECT_NEAR(t.confidence, 0.9, 1e-5);
  EXPECT_NEAR(t.words[0].confidence, 0.9, 1e-5);
  // A blank between repeats keeps both.
  EXPECT_EQ(CtcDecode(Frames(v, "aa_a"), v, {}).text, "aa");
}

TEST(CtcTest, BeamSearchFindsTheMostProbableLabelingWhereGreedyDoesNot) {
  // Two frames over {blank, a}: P(blank) = 0.6 each. Greedy: "" (0.36).
  // P("a") = 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64 > 0.36.
  Vocabulary v = *Vocabulary::Create(" a");
  const torch::Tensor lp = torch::tensor({{0.6f, 0.0f, 0.4f}, {0.6f, 0.0f, 0.4f}}).clamp_min(1e-12).log();
  EXPECT_EQ(CtcDecode(lp, v, {1, 0.03}).text, "");
  const Transcript beam = CtcDecode(lp, v, {4, 0.03});
  EXPECT_EQ(beam.text, "a");
  EXPECT_NEAR(beam.confidence, 0.64, 1e-4);  // posterior of "a" among the beam
}

TEST(CtcTest, IncrementalDecodingEqualsOffline) {
  torch::manual_seed(3);
  const Vocabulary v;
  const torch::Tensor lp = (torch::randn({60, v.size()}) * 3).log_softmax(1);
  for (int beam : {1, 8}) {
    const Transcript offline = CtcDecode(lp, v, {beam, 0.03});
    CtcDecoder d(v, {beam, 0.03});
    for (int64_t t = 0; t < 60; t += 7) {
      const torch::Tensor chunk = lp.narrow(0, t, std::min<int64_t>(7, 60 - t)).contiguous();
      d.Accept(chunk.data_ptr<float>(), chunk.size(0));
    }
    const Transcript inc = d.Best();
    EXPECT_EQ(inc.text, offline.text) << beam;
    ASSERT_EQ(inc.words.size(), offline.words.size());
    for (size_t i = 0; i < inc.words.size(); ++i)
      EXPECT_EQ(inc.words[i].start_seconds, offline.words[i].start_seconds);
  }
}

TEST(CtcTest, ResetStartsANewUtteranceKeepingAbsoluteTimes) {
  const Vocabulary v;
  CtcDecoder d(v, {1, 0.1});
  const torch::Tensor first = Frames(v, "ab____");
  d.Accept(first.data_ptr<float>(), first.size(0));
  EXPECT_TRUE(d.has_speech());
  EXPECT_EQ(d.trailing_blank_frames(), 4);
  EXPECT_EQ(d.Best().text, "ab");
  d.Reset();
  EXPECT_FALSE(d.has_speech());
  const torch::Tensor second = Frames(v, "_c");
  d.Accept(second.data_ptr<float>(), second.size(0));
  const Transcript t = d.Best();
  EXPECT_EQ(t.text, "c");
  EXPECT_NEAR(t.words[0].start_seconds, 0.7, 1e-9);  // frame 7 of the stream
  EXPECT_EQ(d.frames(), 8);
}

TEST(VocabularyTest, NormalizesEncodesAndDecodes) {
  const Vocabulary v;
  EXPECT_EQ(v.size(), 29);
  EXPECT_EQ(v.Normalize("  Don't   STOP, 7 now!"), "don't stop now");
  auto ids = v.Encode("Hi there");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(v.Decode(*ids), "hi there");
  EXPECT_FALSE(v.Encode("123 !!").ok());
  EXPECT_FALSE(Vocabulary::Create("abc").ok());  // no space
  EXPECT_FALSE(Vocabulary::Create(" aa").ok());  // repeated
  EXPECT_TRUE(Vocabulary::Create(" 0123456789").ok());
}

TEST(VocabularyTest, WordUnitsEncodeWholeWordsAndNameUnknownOnes) {
  const auto v = Vocabulary::CreateWords({"zero", "one", "oh"});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->word_units());
  EXPECT_EQ(v->size(), 4);
  EXPECT_EQ(v->space(), -1);
  EXPECT_EQ(v->Normalize("  Oh, ONE-zero! "), "oh one zero");
  const auto ids = v->Encode("Oh, ONE-zero!");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(v->Decode({3, 0, 2, 2}), "oh one one");
  const auto unknown = v->Encode("one two");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("word 'two'"), std::string::npos) << unknown.status();
  EXPECT_FALSE(v->Encode("tone").ok());  // not shrunk to "one"
  EXPECT_FALSE(v->Encode("?!").ok());
  EXPECT_FALSE(Vocabulary::CreateWords({}).ok());
  EXPECT_FALSE(Vocabulary::CreateWords({"one", ""}).ok());
  EXPECT_FALSE(Vocabulary::CreateWords({"one", "one"}).ok());
  EXPECT_FALSE(Vocabulary::CreateWords({"one two"}).ok());
  EXPECT_FALSE(Vocabulary::CreateWords({"One"}).ok());
}

// Log-probabilities [T, V]: frame t puts 0.9 on unit id `ids[t]` - '0'
// ('_' = blank), the rest spread evenly.
torch::Tensor UnitFrames(const Vocabulary& v, const std::string& ids) {
  torch::Tensor lp = torch::full({static_cast<int64_t>(ids.size()), v.size()}, 0.1f / (v.size() - 1));
  for (size_t t = 0; t < ids.size(); ++t)
    lp[static_cast<int64_t>(t)][ids[t] == '_' ? 0 : ids[t] - '0'] = 0.9f;
  return lp.log();
}

TEST(CtcTest, WordUnitsDecodeToWordsWithOneTimingEach) {
  const Vocabulary v = *Vocabulary::CreateWords({"zero", "one", "oh"});
  // frames: 0123456789
  const Transcript t = CtcDecode(UnitFrames(v, "_22_2__33_"), v, {1, 0.06});
  EXPECT_EQ(t.text, "one one oh");
  ASSERT_EQ(t.words.size(), 3u);
  EXPECT_EQ(t.words[0].word, "one");
  EXPECT_NEAR(t.words[0].start_seconds, 1 * 0.06, 1e-9);
  EXPECT_NEAR(t.words[0].end_seconds, 3 * 0.06, 1e-9);  // frames 1-2
  EXPECT_EQ(t.words[1].word, "one");
  EXPECT_NEAR(t.words[1].start_seconds, 4 * 0.06, 1e-9);
  EXPECT_EQ(t.words[2].word, "oh");
  EXPECT_NEAR(t.words[2].end_seconds, 9 * 0.06, 1e-9);  // frames 7-8
  EXPECT_NEAR(t.words[2].confidence, 0.9, 1e-5);
  EXPECT_EQ(CtcDecode(UnitFrames(v, "_22_2__33_"), v, {8, 0.06}).text, "one one oh");
  // A lexicon of word units admits only its words: "zero" (0.6) loses to "oh" (0.3).
  auto lex = Lexicon::Create(v, {"one", "oh", "seven"});
  ASSERT_TRUE(lex.ok()) << lex.status();
  EXPECT_EQ((*lex)->num_words(), 2u);  // "seven" is no unit
  torch::Tensor p = UnitFrames(v, "_2_1_").exp();
  p[3][1] = 0.6f;
  p[3][3] = 0.3f;
  EXPECT_EQ(CtcDecode(p.log(), v, {8, 0.06}).text, "one zero");
  const Transcript constrained = CtcDecode(p.log(), v, {8, 0.06, *lex});
  EXPECT_EQ(constrained.text, "one oh");
  ASSERT_EQ(constrained.words.size(), 2u);
  EXPECT_EQ(constrained.words[1].word, "oh");
}

// Frames where `a` and `b` (same length) compete: `a` gets 0.6, `b` 0.3.
torch::Tensor Competing(const Vocabulary& v, const std::string& a, const std::string& b) {
  torch::Tensor p = torch::full({static_cast<int64_t>(a.size()), v.size()}, 0.1f / (v.size() - 2));
  for (size_t t = 0; t < a.size(); ++t) {
    const int64_t ia = a[t] == '_' ? Vocabulary::kBlank : v.Id(a[t]);
    const int64_t ib = b[t] == '_' ? Vocabulary::kBlank : v.Id(b[t]);
    p[static_cast<int64_t>(t)][ia] = ia == ib ? 0.9f : 0.6f;
    if (ia != ib) p[static_cast<int64_t>(t)][ib] = 0.3f;
  }
  return p.log();
}

TEST(CtcTest, LexiconConstrainsBeamSearchToWholeKnownWords) {
  const Vocabulary v;
  auto lex = Lexicon::Create(v, {"five", "nine", "Oh", "two words", "x7"});
  ASSERT_TRUE(lex.ok()) << lex.status();
  EXPECT_EQ((*lex)->num_words(), 3u);  // "two words" and "x7" are not single in-vocabulary words
  // Open vocabulary reads "sive nine"; only "five" is a word.
  const torch::Tensor lp = Competing(v, "_si_ve_ _nine_", "_fi_ve_ _nine_");
  EXPECT_EQ(CtcDecode(lp, v, {8, 0.03}).text, "sive nine");
  const Transcript t = CtcDecode(lp, v, {8, 0.03, *lex});
  EXPECT_EQ(t.text, "five nine");
  ASSERT_EQ(t.words.size(), 2u);
  EXPECT_EQ(t.words[0].word, "five");
  // A word cut off mid-way loses to complete hypotheses at the end.
  const torch::Tensor cut = Competing(v, "_oh_ _ni", "_oh_ _ni");
  EXPECT_EQ(CtcDecode(cut, v, {8, 0.03, *lex}).text, "oh");
  // Even when every hypothesis in the beam ends mid-word, no partial word is shown.
  const torch::Tensor all_cut = Competing(v, "_fi_ve_ _ni", "_fi_ve_ _ni");
  const Transcript cut_off = CtcDecode(all_cut, v, {2, 0.03, *lex});
  EXPECT_EQ(cut_off.text, "five");
  ASSERT_EQ(cut_off.words.size(), 1u);
  EXPECT_EQ(cut_off.words[0].word, "five");
  EXPECT_FALSE(Lexicon::Create(v, {"7", ""}).ok());
}

}  // namespace
}  // namespace asr
