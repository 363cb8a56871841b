#include "model/context_graph.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace asr {

absl::Status ContextGraph::Validate(const std::vector<BoostedPhrase>& phrases) {
  if (phrases.size() > kMaxPhrases) {
    return absl::InvalidArgumentError(
        absl::StrCat("phrases: ", phrases.size(), " phrases; at most ", kMaxPhrases));
  }
  for (size_t i = 0; i < phrases.size(); ++i) {
    const BoostedPhrase& p = phrases[i];
    if (p.text.empty()) return absl::InvalidArgumentError(absl::StrCat("phrases[", i, "].text: empty"));
    if (p.text.size() > kMaxPhraseBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("phrases[", i, "].text: ", p.text.size(), " bytes; at most ", kMaxPhraseBytes));
    }
    if (!std::isfinite(p.boost) || p.boost < 0 || p.boost > kMaxBoost) {
      return absl::InvalidArgumentError(absl::StrCat("phrases[", i, "].boost: ", p.boost, " not in [0, ",
                                                     kMaxBoost, "] (0 = the default)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ContextGraph>> ContextGraph::Create(
    const Vocabulary& vocab, const std::vector<BoostedPhrase>& phrases) {
  if (absl::Status st = Validate(phrases); !st.ok()) return st;
  if (phrases.empty()) return nullptr;
  auto g = std::shared_ptr<ContextGraph>(new ContextGraph());
  g->nodes_.emplace_back();
  std::vector<float> unit_boost(1, 0.0f);  // per node: the largest boost of the phrases through it
  std::set<int64_t> units;
  for (size_t i = 0; i < phrases.size(); ++i) {
    const std::string text = vocab.Normalize(phrases[i].text);
    if (text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("phrases[", i, "].text: '", phrases[i].text,
                                                     "' has no unit of the model's vocabulary"));
    }
    const auto ids = vocab.Encode(text);
    if (!ids.ok()) {
      // Only word units fail here: name the word.
      for (absl::string_view w : absl::StrSplit(text, ' ')) {
        if (!vocab.Encode(std::string(w)).ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("phrases[", i, "].text: word '", w,
                           "' is not one of the model's units (it has whole-word units)"));
        }
      }
      return absl::InvalidArgumentError(absl::StrCat("phrases[", i, "].text: ", ids.status().message()));
    }
    const float boost = phrases[i].boost > 0 ? phrases[i].boost : kDefaultBoost;
    int node = kRoot;
    for (int64_t id : *ids) {
      units.insert(id);
      int next = g->Child(node, id);
      if (next < 0) {
        next = static_cast<int>(g->nodes_.size());
        g->nodes_[static_cast<size_t>(node)].children.emplace(id, next);
        g->nodes_.emplace_back().unit = id;
        unit_boost.push_back(0.0f);
      }
      node = next;
      unit_boost[static_cast<size_t>(node)] = std::max(unit_boost[static_cast<size_t>(node)], boost);
    }
    if (!g->nodes_[static_cast<size_t>(node)].is_end) ++g->num_phrases_;
    g->nodes_[static_cast<size_t>(node)].is_end = true;
  }
  g->units_.assign(units.begin(), units.end());
  g->space_ = vocab.space();
  g->word_units_ = vocab.word_units();
  // Breadth first, so that a node's fail target (shorter) is final before it.
  const int64_t space = vocab.space();
  std::deque<int> queue{kRoot};
  while (!queue.empty()) {
    const int u = queue.front();
    queue.pop_front();
    const Node& parent = g->nodes_[static_cast<size_t>(u)];
    for (const auto& [id, child] : parent.children) {
      Node& c = g->nodes_[static_cast<size_t>(child)];
      c.held = parent.held + unit_boost[static_cast<size_t>(child)];
      // The longest proper suffix of parent+id that starts at a word start
      // and is a node: one of parent's (its fail chain) extended by id, or
      // id alone when parent ends a word (the empty suffix after a space).
      c.fail = kRoot;
      if (u != kRoot) {
        int f = parent.fail;
        for (; f != kRoot; f = g->nodes_[static_cast<size_t>(f)].fail) {
          if (const int n = g->Child(f, id); n >= 0) {
            c.fail = n;
            break;
          }
        }
        const bool parent_ends_word = vocab.word_units() || parent.unit == space;
        if (f == kRoot && parent_ends_word) c.fail = std::max(kRoot, g->Child(kRoot, id));
      }
      queue.push_back(child);
    }
  }
  return std::shared_ptr<const ContextGraph>(std::move(g));
}

int ContextGraph::Child(int node, int64_t id) const {
  const auto& children = nodes_[static_cast<size_t>(node)].children;
  const auto it = children.find(id);
  return it == children.end() ? -1 : it->second;
}

ContextGraph::Step ContextGraph::Next(int node, int64_t id, bool at_word_start) const {
  const Node& from = nodes_[static_cast<size_t>(node)];
  if (from.is_end) {
    // A phrase has just been spelled out: a longer phrase may go on; a word
    // break keeps the bonus and the unit starts afresh (word units: it may
    // begin a phrase); a letter means the word goes on, and it was not the
    // phrase ("two" in "twoh").
    if (const int child = Child(node, id); child >= 0) {
      return {child, nodes_[static_cast<size_t>(child)].held - from.held};
    }
    if (word_units_ || id == space_) return Next(kRoot, id, /*at_word_start=*/true);
    return {kRoot, -from.held};
  }
  int n = node, target = kRoot;
  for (;;) {
    const int child = Child(n, id);
    // Below the root the match began at a word start already.
    if (child >= 0 && (n != kRoot || at_word_start)) {
      target = child;
      break;
    }
    if (n == kRoot) break;
    n = nodes_[static_cast<size_t>(n)].fail;
  }
  return {target, nodes_[static_cast<size_t>(target)].held - from.held};
}

double ContextGraph::Pending(int node) const {
  const Node& n = nodes_[static_cast<size_t>(node)];
  return n.is_end ? 0.0 : n.held;
}

}  // namespace asr
