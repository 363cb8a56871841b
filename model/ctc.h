// CTC: the training loss, and decoding of per-frame log-probabilities into
// text with word timings and confidence: greedy (best path) and prefix beam
// search (Hannun et al. 2014), both incremental so that streaming and
// offline decoding share one implementation (offline = one chunk).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/context_graph.h"
#include "model/vocabulary.h"

namespace asr {

// Mean over the batch of each utterance's CTC loss divided by its target
// length (torch::ctc_loss, reduction mean, zero_infinity on, blank 0).
// log_probs [T, B, V]; targets [B, S] padded; lengths int64 [B].
torch::Tensor CtcLoss(const torch::Tensor& log_probs, const torch::Tensor& targets,
                      const torch::Tensor& input_lengths, const torch::Tensor& target_lengths);

// The confidence penalty's term (Pereyra et al. 2017; for CTC, Liu et al.
// 2018): each utterance's output entropy -sum_v p log p summed over its
// first input_lengths[b] frames and divided by its target length (clamped
// to >= 1, CtcLoss's normalization), mean over the batch. log_probs [T, B, V]
// (log-softmax); lengths int64 [B]. Differentiable.
torch::Tensor FrameEntropy(const torch::Tensor& log_probs, const torch::Tensor& input_lengths,
                           const torch::Tensor& target_lengths);

struct WordTiming {
  std::string word;
  double start_seconds = 0;  // from the stream (or file) start
  double end_seconds = 0;
  float confidence = 0;  // mean posterior of the word's units (characters, or the word unit)
};

struct Transcript {
  std::string text;
  std::vector<WordTiming> words;
  float confidence = 0;  // in [0, 1]
};

// A closed word list for lexicon-constrained beam search: a trie over
// vocabulary ids. Immutable after construction; share it across threads.
class Lexicon {
 public:
  static constexpr int kRoot = 0;
  // Words are Normalize()d; words with symbols outside the vocabulary (with
  // word units: words that are not a unit), and empty ones, are dropped. Fails when no word is left.
  static absl::StatusOr<std::shared_ptr<const Lexicon>> Create(const Vocabulary& vocab,
                                                               const std::vector<std::string>& words);
  // Child of `node` through symbol id, or -1.
  int Child(int node, int64_t id) const;
  bool IsWord(int node) const { return nodes_[static_cast<size_t>(node)].is_word; }
  size_t num_words() const { return num_words_; }

 private:
  struct Node {
    std::map<int64_t, int> children;
    bool is_word = false;
  };
  std::vector<Node> nodes_;
  size_t num_words_ = 0;
};

struct CtcDecoderOptions {
  CtcDecoderOptions() = default;
  CtcDecoderOptions(int beam, double frame_s, std::shared_ptr<const Lexicon> lex = nullptr)
      : beam_width(beam), frame_seconds(frame_s), lexicon(std::move(lex)) {}
  int beam_width = 1;           // 1 = greedy best path; > 1 = prefix beam search
  double frame_seconds = 0.03;  // duration of one output frame
  // With beam_width > 1: only words of this lexicon can be emitted, and the
  // best hypothesis ends on a whole word when any in the beam does.
  // nullptr = open vocabulary.
  std::shared_ptr<const Lexicon> lexicon;
  // With beam_width > 1: phrases to boost (context_graph.h); nullptr = none.
  std::shared_ptr<const ContextGraph> phrases;
};

// Decodes one utterance incrementally. Frame indices are absolute: they
// continue across Reset(), so times stay relative to the stream start.
// Not thread-safe; one per stream.
class CtcDecoder {
 public:
  CtcDecoder(const Vocabulary& vocab, const CtcDecoderOptions& options);

  // `n` frames of vocab.size() log-probabilities, row-major.
  void Accept(const float* log_probs, int64_t n);
  // The best hypothesis for the frames of the current utterance so far.
  Transcript Best() const;
  // Up to n hypotheses, best first (beam search; greedy gives one). The
  // confidences are posteriors within the beam.
  std::vector<Transcript> NBest(int n) const;
  // Starts a new utterance at the current frame.
  void Reset();

  int64_t frames() const { return frame_; }  // absolute frames consumed
  // Consecutive latest frames whose most likely symbol was the blank.
  int64_t trailing_blank_frames() const { return trailing_blank_; }
  // True once the current utterance has emitted a symbol.
  bool has_speech() const { return has_speech_; }

 private:
  struct Prefix {
    double p_blank = -INFINITY;         // log P(prefix, path ends in blank)
    double p_symbol = -INFINITY;        // log P(prefix, path ends in its last symbol)
    std::vector<int64_t> frames;        // frame of each symbol's emission
    std::vector<float> probs;           // posterior of each symbol at emission
    int node = Lexicon::kRoot;          // lexicon trie node of the word in progress
    int context = ContextGraph::kRoot;  // phrase-boosting state
    double bonus = 0;                   // phrase bonus earned, log domain (pending part included)
    double total() const;
  };
  void AcceptGreedy(const float* lp);
  void AcceptBeam(const float* lp);
  // Beam entries ranked best first; with a lexicon, complete-word
  // hypotheses before the rest.
  std::vector<std::pair<double, const std::vector<int64_t>*>> Ranked() const;
  Transcript MakeTranscript(const std::vector<int64_t>& tokens, const std::vector<int64_t>& first,
                            const std::vector<int64_t>& last, const std::vector<float>& probs,
                            float confidence) const;

  Vocabulary vocab_;
  CtcDecoderOptions opts_;
  int64_t frame_ = 0;
  int64_t trailing_blank_ = 0;
  bool has_speech_ = false;
  // Greedy state.
  int64_t prev_ = Vocabulary::kBlank;
  std::vector<int64_t> tokens_, first_, last_;
  std::vector<float> probs_;
  double blank_prob_sum_ = 0;
  int64_t utterance_frames_ = 0;
  // Beam state.
  std::map<std::vector<int64_t>, Prefix> beam_;
};

// Offline decoding of one utterance: log_probs [T, V] float (any device).
Transcript CtcDecode(const torch::Tensor& log_probs, const Vocabulary& vocab,
                     const CtcDecoderOptions& options);

}  // namespace asr
