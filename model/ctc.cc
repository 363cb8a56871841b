#include "model/ctc.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace asr {
namespace {

double LogAdd(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

}  // namespace

torch::Tensor CtcLoss(const torch::Tensor& log_probs, const torch::Tensor& targets,
                      const torch::Tensor& input_lengths, const torch::Tensor& target_lengths) {
  return at::ctc_loss(log_probs, targets, input_lengths, target_lengths, Vocabulary::kBlank,
                      at::Reduction::Mean, /*zero_infinity=*/true);
}

torch::Tensor FrameEntropy(const torch::Tensor& log_probs, const torch::Tensor& input_lengths,
                           const torch::Tensor& target_lengths) {
  const torch::Device dev = log_probs.device();
  const torch::Tensor entropy = -(log_probs.exp() * log_probs).sum(2);  // [T, B]
  const torch::Tensor valid =
      torch::arange(log_probs.size(0), torch::dtype(torch::kInt64).device(dev)).unsqueeze(1) <
      input_lengths.to(dev).unsqueeze(0);
  const torch::Tensor per_utterance = torch::where(valid, entropy, torch::zeros_like(entropy)).sum(0);
  return (per_utterance / target_lengths.to(dev).clamp_min(1).to(entropy.scalar_type())).mean();
}

absl::StatusOr<std::shared_ptr<const Lexicon>> Lexicon::Create(const Vocabulary& vocab,
                                                               const std::vector<std::string>& words) {
  auto lex = std::shared_ptr<Lexicon>(new Lexicon());
  lex->nodes_.emplace_back();
  for (const std::string& raw : words) {
    const std::string w = vocab.Normalize(raw);
    if (w.empty() || w.find(' ') != std::string::npos || w.size() != raw.size()) continue;
    const auto ids = vocab.Encode(w);  // word units: one id
    if (!ids.ok()) continue;
    int node = kRoot;
    for (int64_t id : *ids) {
      auto& children = lex->nodes_[static_cast<size_t>(node)].children;
      auto it = children.find(id);
      if (it == children.end()) {
        it = children.emplace(id, static_cast<int>(lex->nodes_.size())).first;
        lex->nodes_.emplace_back();
      }
      node = it->second;
    }
    if (!lex->nodes_[static_cast<size_t>(node)].is_word) ++lex->num_words_;
    lex->nodes_[static_cast<size_t>(node)].is_word = true;
  }
  if (lex->num_words_ == 0) return absl::InvalidArgumentError("lexicon: no usable word");
  return std::shared_ptr<const Lexicon>(std::move(lex));
}

int Lexicon::Child(int node, int64_t id) const {
  const auto& children = nodes_[static_cast<size_t>(node)].children;
  const auto it = children.find(id);
  return it == children.end() ? -1 : it->second;
}

double CtcDecoder::Prefix::total() const { return LogAdd(p_blank, p_symbol); }

CtcDecoder::CtcDecoder(const Vocabulary& vocab, const CtcDecoderOptions& options)
    : vocab_(vocab), opts_(options) {
  Reset();
}

void CtcDecoder::Reset() {
  trailing_blank_ = 0;
  has_speech_ = false;
  prev_ = Vocabulary::kBlank;
  tokens_.clear();
  first_.clear();
  last_.clear();
  probs_.clear();
  blank_prob_sum_ = 0;
  utterance_frames_ = 0;
  beam_.clear();
  Prefix empty;
  empty.p_blank = 0;
  beam_[{}] = empty;
}

void CtcDecoder::Accept(const float* log_probs, int64_t n) {
  const int64_t v = vocab_.size();
  for (int64_t i = 0; i < n; ++i, ++frame_) {
    const float* lp = log_probs + i * v;
    const int64_t best = std::max_element(lp, lp + v) - lp;
    trailing_blank_ = best == Vocabulary::kBlank ? trailing_blank_ + 1 : 0;
    blank_prob_sum_ += std::exp(lp[Vocabulary::kBlank]);
    ++utterance_frames_;
    if (opts_.beam_width <= 1) {
      AcceptGreedy(lp);
    } else {
      AcceptBeam(lp);
    }
  }
}

void CtcDecoder::AcceptGreedy(const float* lp) {
  const int64_t v = vocab_.size();
  const int64_t best = std::max_element(lp, lp + v) - lp;
  if (best != Vocabulary::kBlank && best != prev_) {
    tokens_.push_back(best);
    first_.push_back(frame_);
    last_.push_back(frame_);
    probs_.push_back(std::exp(lp[best]));
    has_speech_ = true;
  } else if (best != Vocabulary::kBlank && best == prev_ && !last_.empty()) {
    last_.back() = frame_;
  }
  prev_ = best;
}

void CtcDecoder::AcceptBeam(const float* lp) {
  const int64_t v = vocab_.size();
  // Candidate symbols: the beam_width most likely at this frame.
  std::vector<int64_t> cand;
  for (int64_t c = 1; c < v; ++c) cand.push_back(c);
  const Lexicon* lex = opts_.lexicon.get();
  const int64_t space = vocab_.space();
  // A lexicon prunes most extensions, so every symbol is a candidate then.
  const size_t k = lex ? cand.size() : std::min<size_t>(cand.size(), static_cast<size_t>(opts_.beam_width));
  std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(),
                    [lp](int64_t a, int64_t b) { return lp[a] > lp[b]; });
  cand.resize(k);
  const ContextGraph* phrases = opts_.phrases.get();
  if (phrases) {
    // However unlikely at this frame, a phrase's units may extend a match.
    for (int64_t u : phrases->units()) {
      if (std::find(cand.begin(), cand.end(), u) == cand.end()) cand.push_back(u);
    }
  }
  std::map<std::vector<int64_t>, Prefix> next;
  for (const auto& [tokens, p] : beam_) {
    const double total = p.total();
    Prefix& same = next[tokens];
    if (same.frames.empty() && !tokens.empty()) {
      same.frames = p.frames;
      same.probs = p.probs;
      same.node = p.node;
      same.context = p.context;
      same.bonus = p.bonus;
    }
    same.p_blank = LogAdd(same.p_blank, total + lp[Vocabulary::kBlank]);
    if (!tokens.empty()) same.p_symbol = LogAdd(same.p_symbol, p.p_symbol + lp[tokens.back()]);
    for (int64_t c : cand) {
      int node = Lexicon::kRoot;
      if (lex) {
        if (c == space) {
          // A word break only after a whole word (no leading or double spaces).
          if (p.node == Lexicon::kRoot || !lex->IsWord(p.node)) continue;
        } else if ((node = lex->Child(p.node, c)) < 0) {
          continue;
        } else if (vocab_.word_units()) {
          node = Lexicon::kRoot;  // a word unit is a whole word
        }
      }
      std::vector<int64_t> ext = tokens;
      ext.push_back(c);
      Prefix& e = next[ext];
      if (e.frames.size() != ext.size()) {
        e.frames = p.frames;
        e.frames.push_back(frame_);
        e.probs = p.probs;
        e.probs.push_back(std::exp(lp[c]));
        e.node = node;
        e.context = p.context;
        e.bonus = p.bonus;
        if (phrases) {
          const bool word_start = vocab_.word_units() || tokens.empty() || tokens.back() == space;
          const ContextGraph::Step step = phrases->Next(p.context, c, word_start);
          e.context = step.node;
          e.bonus += step.bonus;
        }
      }
      // Repeating the last symbol needs a blank in between.
      const double from = (!tokens.empty() && c == tokens.back()) ? p.p_blank : total;
      e.p_symbol = LogAdd(e.p_symbol, from + lp[c]);
    }
  }
  std::vector<std::pair<double, const std::vector<int64_t>*>> ranked;
  // Boosted phrases compete with their bonus, unfinished matches included.
  for (const auto& [tokens, p] : next) ranked.push_back({p.total() + p.bonus, &tokens});
  const size_t keep = std::min<size_t>(ranked.size(), static_cast<size_t>(opts_.beam_width));
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::map<std::vector<int64_t>, Prefix> pruned;
  for (size_t i = 0; i < keep; ++i) pruned[*ranked[i].second] = std::move(next[*ranked[i].second]);
  beam_ = std::move(pruned);
  has_speech_ =
      has_speech_ || std::any_of(beam_.begin(), beam_.end(), [](const auto& e) { return !e.first.empty(); });
}

Transcript CtcDecoder::MakeTranscript(const std::vector<int64_t>& tokens, const std::vector<int64_t>& first,
                                      const std::vector<int64_t>& last, const std::vector<float>& probs,
                                      float confidence) const {
  Transcript t;
  t.text = vocab_.Decode(tokens);
  t.confidence = confidence;
  const int64_t space = vocab_.space();
  WordTiming w;
  double prob_sum = 0;
  int units = 0;
  auto flush = [&] {
    if (units == 0) return;
    w.confidence = static_cast<float>(prob_sum / units);
    t.words.push_back(w);
    w = WordTiming();
    prob_sum = 0;
    units = 0;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == space) {
      flush();
      continue;
    }
    if (units == 0) w.start_seconds = static_cast<double>(first[i]) * opts_.frame_seconds;
    w.word += vocab_.Unit(tokens[i]);
    w.end_seconds = static_cast<double>(last[i] + 1) * opts_.frame_seconds;
    prob_sum += probs[i];
    ++units;
    if (vocab_.word_units()) flush();
  }
  flush();
  // Trim spaces the model emitted at the edges.
  const size_t a = t.text.find_first_not_of(' '), b = t.text.find_last_not_of(' ');
  t.text = a == std::string::npos ? "" : t.text.substr(a, b - a + 1);
  return t;
}

Transcript CtcDecoder::Best() const {
  if (opts_.beam_width <= 1) {
    float conf = 0;
    if (!probs_.empty()) {
      double s = 0;
      for (float p : probs_) s += p;
      conf = static_cast<float>(s / static_cast<double>(probs_.size()));
    } else if (utterance_frames_ > 0) {
      conf = static_cast<float>(blank_prob_sum_ / static_cast<double>(utterance_frames_));
    }
    return MakeTranscript(tokens_, first_, last_, probs_, conf);
  }
  return NBest(1).front();
}

std::vector<std::pair<double, const std::vector<int64_t>*>> CtcDecoder::Ranked() const {
  std::vector<std::pair<double, const std::vector<int64_t>*>> ranked;
  // An unfinished phrase match gives its bonus back.
  const ContextGraph* phrases = opts_.phrases.get();
  for (const auto& [tokens, p] : beam_) {
    ranked.push_back({p.total() + p.bonus - (phrases ? phrases->Pending(p.context) : 0.0), &tokens});
  }
  const Lexicon* lex = opts_.lexicon.get();
  auto complete = [&](const std::vector<int64_t>* t) {
    const int node = beam_.at(*t).node;
    return !lex || node == Lexicon::kRoot || lex->IsWord(node);
  };
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    const bool ca = complete(a.second), cb = complete(b.second);
    return ca != cb ? ca : a.first > b.first;
  });
  return ranked;
}

std::vector<Transcript> CtcDecoder::NBest(int n) const {
  if (opts_.beam_width <= 1) return {Best()};
  const auto ranked = Ranked();
  double norm = -INFINITY;
  for (const auto& r : ranked) norm = LogAdd(norm, r.first);
  std::vector<Transcript> out;
  for (size_t i = 0; i < ranked.size() && static_cast<int>(out.size()) < n; ++i) {
    const std::vector<int64_t>& tokens = *ranked[i].second;
    const Prefix& p = beam_.at(tokens);
    // A closed vocabulary never shows a word in progress: cut it off.
    size_t keep = tokens.size();
    if (opts_.lexicon && p.node != Lexicon::kRoot && !opts_.lexicon->IsWord(p.node)) {
      keep = 0;
      for (size_t k = tokens.size(); k > 0; --k) {
        if (tokens[k - 1] == vocab_.space()) {
          keep = k - 1;
          break;
        }
      }
    }
    const auto head = [keep](const auto& v) {
      return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin(), v.begin() + keep);
    };
    const std::vector<int64_t> frames = head(p.frames);
    Transcript t = MakeTranscript(head(tokens), frames, frames, head(p.probs),
                                  static_cast<float>(std::exp(ranked[i].first - norm)));
    // Prefixes differing only in edge spaces read the same; keep the first.
    if (std::any_of(out.begin(), out.end(), [&](const Transcript& o) { return o.text == t.text; })) continue;
    out.push_back(std::move(t));
  }
  return out;
}

Transcript CtcDecode(const torch::Tensor& log_probs, const Vocabulary& vocab,
                     const CtcDecoderOptions& options) {
  const torch::Tensor lp = log_probs.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  CtcDecoder d(vocab, options);
  d.Accept(lp.data_ptr<float>(), lp.size(0));
  return d.Best();
}

}  // namespace asr
