// Phrase boosting (contextual biasing) for CTC prefix beam search, in the
// manner of icefall's and sherpa's hotwords: the phrases' output units form
// an Aho-Corasick trie; a hypothesis earns `boost` (a log-probability bonus)
// for each unit that extends a match, keeps the bonus once the phrase is
// complete and a word break (or the end of the utterance) follows it, and
// gives it back when a partial match fails, when the word goes on past the
// phrase ("two" in "twoh"), or when the utterance ends inside a match.
// Matches start at word starts only (a phrase "art" is not boosted inside
// "start"). Of nested phrases ("new", "new york") the longer is followed
// while it matches; if it then fails, the shorter is not credited either.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/vocabulary.h"

namespace asr {

struct BoostedPhrase {
  std::string text;  // Vocabulary::Normalize()d before use
  float boost = 0;   // log-probability bonus per output unit matched; 0 = the default
};

class ContextGraph {
 public:
  static constexpr int kRoot = 0;
  // The default per unit (a character, or a word of a word-unit model),
  // chosen on held-out data (docs/results.md#phrase-boosting): larger ones
  // fix a few more phrases and cost the utterances that hold none of them.
  static constexpr float kDefaultBoost = 0.5f;
  static constexpr float kMaxBoost = 10.0f;
  static constexpr size_t kMaxPhrases = 1000;
  static constexpr size_t kMaxPhraseBytes = 200;

  // INVALID_ARGUMENT naming the field ("phrases[3].boost: ..."): more than
  // kMaxPhrases, text empty or longer than kMaxPhraseBytes, boost outside
  // [0, kMaxBoost] or not finite. Needs no model.
  static absl::Status Validate(const std::vector<BoostedPhrase>& phrases);
  // Validate(), then each phrase encoded in `vocab`'s units; INVALID_ARGUMENT
  // ("phrases[1].text: ...") for one with no unit of the vocabulary or, for
  // word units, a word that is not a unit. Null for no phrases.
  static absl::StatusOr<std::shared_ptr<const ContextGraph>> Create(
      const Vocabulary& vocab, const std::vector<BoostedPhrase>& phrases);

  struct Step {
    int node = kRoot;
    double bonus = 0;  // change in the hypothesis's bonus (negative when a match fails)
  };
  // The state after unit `id` from state `node`. `at_word_start`: the unit
  // begins a word (the hypothesis is empty or ends in a space, or units
  // are words); only then can a match start afresh.
  Step Next(int node, int64_t id, bool at_word_start) const;
  // Bonus an unfinished match at `node` holds; withdrawn when the
  // hypothesis ends there (the final ranking subtracts it). 0 where a
  // phrase has just been completed.
  double Pending(int node) const;
  // Every unit that occurs in a phrase, ascending: beam search considers
  // them at every frame, however unlikely, so a phrase can enter the beam.
  const std::vector<int64_t>& units() const { return units_; }
  size_t num_phrases() const { return num_phrases_; }

 private:
  struct Node {
    std::map<int64_t, int> children;
    int64_t unit = -1;    // the unit that leads here from the parent
    int fail = kRoot;     // longest proper suffix starting at a word start that is a node
    double held = 0;      // bonus accrued from the root to here
    bool is_end = false;  // a phrase ends here
  };
  int Child(int node, int64_t id) const;
  std::vector<Node> nodes_;
  std::vector<int64_t> units_;
  size_t num_phrases_ = 0;
  int64_t space_ = -1;  // the word break unit; -1 for word units
  bool word_units_ = false;
};

}  // namespace asr
