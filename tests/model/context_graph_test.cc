// Phrase boosting: the context graph's bonuses (earned per unit, kept on a
// complete phrase, withdrawn on a failed one, word-start anchoring, the
// Aho-Corasick fall-back), its limits and errors, and what it does to
// prefix beam search.
#include "model/context_graph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/ctc.h"

namespace asr {
namespace {

// Runs `text`'s character units through `g` from the root, word starts as
// the decoder sees them; returns the total bonus and the final state.
ContextGraph::Step Walk(const ContextGraph& g, const Vocabulary& v, const std::string& text) {
  ContextGraph::Step total;
  int64_t prev = -1;
  for (char ch : text) {
    const ContextGraph::Step s = g.Next(total.node, v.Id(ch), prev < 0 || prev == v.space());
    total.node = s.node;
    total.bonus += s.bonus;
    prev = v.Id(ch);
  }
  return total;
}

TEST(ContextGraphTest, EarnsPerUnitKeepsCompletePhrasesAndWithdrawsFailedOnes) {
  const Vocabulary v;
  auto g = ContextGraph::Create(v, {{"kelvin", 1.5f}});
  ASSERT_TRUE(g.ok()) << g.status();
  // Partway: 3 units earned, held pending.
  const ContextGraph::Step kel = Walk(**g, v, "kel");
  EXPECT_DOUBLE_EQ(kel.bonus, 4.5);
  EXPECT_DOUBLE_EQ((*g)->Pending(kel.node), 4.5);
  // Complete: 6 units kept, nothing pending; more text earns nothing.
  const ContextGraph::Step full = Walk(**g, v, "kelvin is");
  EXPECT_DOUBLE_EQ(full.bonus, 9.0);
  EXPECT_DOUBLE_EQ((*g)->Pending(full.node), 0.0);
  // A failed match gives everything back, and so does a word that goes on
  // past the phrase.
  EXPECT_DOUBLE_EQ(Walk(**g, v, "kelp").bonus, 0.0);
  EXPECT_DOUBLE_EQ(Walk(**g, v, "kelvins").bonus, 0.0);
  EXPECT_DOUBLE_EQ(Walk(**g, v, "kevin").bonus, 0.0);
  // Matches start at word starts only, and start over after a failure.
  EXPECT_DOUBLE_EQ(Walk(**g, v, "skelvin").bonus, 0.0);
  EXPECT_DOUBLE_EQ(Walk(**g, v, "kel kelvin").bonus, 9.0);
  // Nested phrases: the longer is followed while it matches; the shorter
  // counts where a word break follows it.
  auto nested = ContextGraph::Create(v, {{"art", 1.0f}, {"artist", 1.0f}});
  ASSERT_TRUE(nested.ok());
  EXPECT_DOUBLE_EQ(Walk(**nested, v, "artist").bonus, 6.0);
  EXPECT_DOUBLE_EQ(Walk(**nested, v, "art is").bonus, 3.0);
  EXPECT_DOUBLE_EQ(Walk(**nested, v, "arts").bonus, 0.0);
  EXPECT_DOUBLE_EQ(Walk(**nested, v, "artisan").bonus, 0.0);
  // The default boost is kDefaultBoost per unit.
  auto d = ContextGraph::Create(v, {{"ab", 0}});
  EXPECT_DOUBLE_EQ(Walk(**d, v, "ab").bonus, 2 * ContextGraph::kDefaultBoost);
}

TEST(ContextGraphTest, FallsBackToTheLongestWordStartSuffix) {
  const Vocabulary v;
  // "a a a b": the match "a a " fails at the third 'a', whose word-start
  // suffix "a a" is still a match of "a a b": it completes (5 units).
  auto g = ContextGraph::Create(v, {{"a a b", 1.0f}});
  ASSERT_TRUE(g.ok());
  EXPECT_DOUBLE_EQ(Walk(**g, v, "a a a b").bonus, 5.0);
  // Two phrases sharing "new": the second starts afresh where the first fails.
  auto two = ContextGraph::Create(v, {{"new york", 1.0f}, {"newark", 1.0f}});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)->num_phrases(), 2u);
  EXPECT_DOUBLE_EQ(Walk(**two, v, "new newark").bonus, 6.0);
  EXPECT_DOUBLE_EQ(Walk(**two, v, "new york").bonus, 8.0);
  // Units: the letters and the space of both phrases.
  EXPECT_EQ((*two)->units().size(), std::string(" aeknorwy").size());
}

TEST(ContextGraphTest, LimitsAndUnspellablePhrasesAreErrorsNamingTheField) {
  const Vocabulary v;
  const auto message = [&](const std::vector<BoostedPhrase>& p) {
    auto g = ContextGraph::Create(v, p);
    EXPECT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(g.status().message());
  };
  EXPECT_EQ(message({{"ok", 1}, {"", 1}}).find("phrases[1].text: empty"), 0u);
  EXPECT_EQ(message({{std::string(201, 'a'), 1}}).find("phrases[0].text: 201 bytes; at most 200"), 0u);
  EXPECT_EQ(message({{"a", -1}}).find("phrases[0].boost: -1 not in [0, 10]"), 0u);
  EXPECT_EQ(message({{"a", 10.5f}}).find("phrases[0].boost:"), 0u);
  EXPECT_EQ(message({{"a", NAN}}).find("phrases[0].boost:"), 0u);
  EXPECT_EQ(message(std::vector<BoostedPhrase>(1001, {"a", 1})).find("phrases: 1001 phrases; at most 1000"),
            0u);
  EXPECT_EQ(message({{"a", 1}, {"123 !", 1}}).find("phrases[1].text: '123 !' has no unit"), 0u);
  const Vocabulary words = *Vocabulary::CreateWords({"one", "two"});
  auto w = ContextGraph::Create(words, {{"two one", 1}, {"one kelvin", 1}});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("phrases[1].text:"), std::string::npos) << w.status();
  EXPECT_NE(w.status().message().find("kelvin"), std::string::npos) << w.status();
  // No phrases: no graph.
  auto none = ContextGraph::Create(v, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

// Frames [T, V]: each a distribution over units given as {char: p} ('_' =
// blank), the rest of the mass spread evenly over the other units.
torch::Tensor Frames(const Vocabulary& v, const std::vector<std::map<char, float>>& frames) {
  torch::Tensor p = torch::zeros({static_cast<int64_t>(frames.size()), v.size()});
  for (size_t t = 0; t < frames.size(); ++t) {
    float left = 1;
    for (const auto& [ch, prob] : frames[t]) left -= prob;
    p[static_cast<int64_t>(t)].fill_(left / static_cast<float>(v.size() - frames[t].size()));
    for (const auto& [ch, prob] : frames[t]) {
      p[static_cast<int64_t>(t)][ch == '_' ? Vocabulary::kBlank : v.Id(ch)] = prob;
    }
  }
  return p.log();
}

// "k e ? v i n": the third frame is more likely blank (0.55) than 'l' (0.35),
// so the acoustics read "kevin" by log(0.55 / 0.35) = 0.45.
std::vector<std::map<char, float>> KevinOrKelvin(float blank = 0.55f, float l = 0.35f) {
  return {{{'k', .9f}}, {{'_', .9f}}, {{'e', .9f}}, {{'_', blank}, {'l', l}}, {{'v', .9f}}, {{'i', .9f}},
          {{'_', .9f}}, {{'n', .9f}}, {{'_', .9f}}};
}

TEST(PhraseBoostingTest, ABoostedPhraseWinsWhereTheAcousticsAreClose) {
  const Vocabulary v;
  const torch::Tensor lp = Frames(v, KevinOrKelvin());
  EXPECT_EQ(CtcDecode(lp, v, {1, 0.03}).text, "kevin");
  EXPECT_EQ(CtcDecode(lp, v, {8, 0.03}).text, "kevin");
  CtcDecoderOptions boosted(8, 0.03);
  boosted.phrases = *ContextGraph::Create(v, {{"kelvin", 1.0f}});
  EXPECT_EQ(CtcDecode(lp, v, boosted).text, "kelvin");
  // A boost too small for the gap leaves the acoustics' choice: 6 units x
  // 0.05 = 0.3 < 0.45 ("kevin" gives back what "ke" earned).
  CtcDecoderOptions weak(8, 0.03);
  weak.phrases = *ContextGraph::Create(v, {{"kelvin", 0.05f}});
  EXPECT_EQ(CtcDecode(lp, v, weak).text, "kevin");
  // Audio that clearly says something else is not bent into the phrase:
  // log(0.98 / 0.0005) = 7.6 > 6 units x 1.
  const torch::Tensor clear = Frames(v, KevinOrKelvin(0.98f, 0.0005f));
  EXPECT_EQ(CtcDecode(clear, v, boosted).text, "kevin");
}

TEST(PhraseBoostingTest, AnUnfinishedMatchGivesItsBonusBack) {
  const Vocabulary v;
  // "kel" then silence: with "kelvin" boosted, the hypothesis "kel" must
  // rank on its acoustics alone against "ke" (the 'l' frame is 50/50).
  const std::vector<std::map<char, float>> f = {
      {{'k', .9f}}, {{'_', .9f}}, {{'e', .9f}}, {{'_', .5f}, {'l', .45f}}, {{'_', .95f}}};
  CtcDecoderOptions boosted(8, 0.03);
  boosted.phrases = *ContextGraph::Create(v, {{"kelvin", 5.0f}});
  CtcDecoder d(v, boosted);
  const torch::Tensor lp = Frames(v, f).contiguous();
  d.Accept(lp.data_ptr<float>(), lp.size(0));
  const std::vector<Transcript> n = d.NBest(2);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].text, "ke");
  EXPECT_EQ(n[1].text, "kel");
  // Their confidences are the acoustics' (0.5 : 0.45 of the two), not the bonus's.
  EXPECT_NEAR(n[0].confidence / n[1].confidence, 0.5 / 0.45, 0.05);
}

TEST(PhraseBoostingTest, IncrementalEqualsOffline) {
  const Vocabulary v;
  CtcDecoderOptions boosted(8, 0.03);
  boosted.phrases = *ContextGraph::Create(v, {{"kelvin", 1.0f}, {"in", 1.0f}});
  const torch::Tensor lp = Frames(v, KevinOrKelvin()).contiguous();
  CtcDecoder d(v, boosted);
  for (int64_t t = 0; t < lp.size(0); ++t) d.Accept(lp[t].data_ptr<float>(), 1);
  EXPECT_EQ(d.Best().text, CtcDecode(lp, v, boosted).text);
  EXPECT_EQ(d.Best().text, "kelvin");
}

}  // namespace
}  // namespace asr
