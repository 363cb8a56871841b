// AcousticModel: features (global CMVN, or online CMN, applied inside) -> optional frame
// stacking with subsampling (k consecutive frames concatenated, every k-th
// kept) -> LayerNormLstm -> linear -> log-softmax over the vocabulary
// (blank = 0). Everything follows the module's device (CPU or CUDA).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/cmvn.h"
#include "features/online_features.h"
#include "model/ln_lstm.h"
#include "model/vocabulary.h"
#include "nlohmann/json.hpp"

namespace asr {

struct AcousticModelConfig {
  FeatureOptions features;  // how input features are computed
  int frame_stacking = 3;   // k in 1..8: stack k frames, output every k-th
  int hidden_size = 256;    // LSTM cell size H
  int num_layers = 3;
  bool bidirectional = false;  // true cannot stream
  double dropout = 0.1;        // between LSTM layers, training only
  int proj_size = 0;           // LSTMP projection; 0 = none
  double ln_eps = 1e-5;
  double blank_bias_init = 4.0;  // initial output bias of the CTC blank (others 0 +- init)
  // Burn-in: the LSTM first runs this many copies of the first (stacked)
  // input frame, whose outputs are dropped, so the utterance's first frame
  // never meets the zero initial state. Training draws the count per batch
  // from [1, 2 * burn_in_frames]: the model cannot tell which frame starts
  // the CTC input and so cannot learn to "emit the first word at frame 0".
  int burn_in_frames = 4;
  // Online mean normalization in place of the global mean (see OnlineCmn):
  // "online_cmn": {"window": 600, "prior_frames": 200}; window 0 = off.
  // Streaming applies the same (StreamingFeaturePipeline).
  OnlineCmnOptions online_cmn;
  std::string vocabulary = Vocabulary::kDefaultSymbols;  // character units
  // Word units instead of characters when non-empty (a closed vocabulary,
  // e.g. the digit words; `vocabulary` must stay the default then).
  std::vector<std::string> word_units;
  // Words a closed-vocabulary beam search may emit (see Lexicon in ctc.h).
  // Empty in a training config: the trainer fills in the words of the
  // training transcripts, so every trained model knows its lexicon.
  std::vector<std::string> lexicon;

  int input_dim() const { return features.Dim() * frame_stacking; }
  // Seconds per model output frame.
  double output_frame_seconds() const { return features.frame_opts().frame_shift_ms * 1e-3 * frame_stacking; }
  absl::Status Validate() const;
  // The output units: word_units if any, else the characters of `vocabulary`.
  absl::StatusOr<Vocabulary> MakeVocabulary() const;
  nlohmann::json ToJson() const;
  // Unknown fields and bad values are errors naming the field ("model.x").
  static absl::StatusOr<AcousticModelConfig> FromJson(const nlohmann::json& j);

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"features", "how input features are computed"}, s.features);
    v({"frame_stacking", "k in 1..8: stack k frames, output every k-th"}, s.frame_stacking);
    v({"hidden_size", "LSTM cell size"}, s.hidden_size);
    v({"num_layers", "LSTM layers"}, s.num_layers);
    v({"bidirectional", "true cannot stream"}, s.bidirectional);
    v({"dropout", "between LSTM layers, training only"}, s.dropout);
    v({"proj_size", "LSTMP projection; 0 = none"}, s.proj_size);
    v({"ln_eps", "layer-norm epsilon"}, s.ln_eps);
    v({"blank_bias_init", "initial output bias of the CTC blank"}, s.blank_bias_init);
    v({"burn_in_frames", "LSTM warm-up on copies of the first input (training: 1..2x at random)"},
      s.burn_in_frames);
    v({"online_cmn", "online mean normalization (Kaldi apply-cmvn-online); window 0 = off"}, s.online_cmn);
    v({"vocabulary", "character units (blank is implicit)"}, s.vocabulary);
    v({"word_units", "whole-word units instead of characters; vocabulary must stay the default"},
      s.word_units);
    v({"lexicon", "words for closed-vocabulary decoding; empty = the training transcripts' words"},
      s.lexicon);
  }
};

// Output of AcousticModel::forward.
struct AcousticOutput {
  torch::Tensor log_probs;  // [T', B, V], T' = ceil(T / k)
  torch::Tensor lengths;    // [B] int64 on CPU: ceil(length / k)
  // [T', B, V]: log-softmax of the output layer applied to an inner LSTM
  // layer's output (intermediate CTC); defined only when forward() was
  // asked for one.
  torch::Tensor intermediate_log_probs;
};

class AcousticModelImpl : public torch::nn::Module {
 public:
  // `cmvn` must have features.Dim() dimensions (Identity() for none).
  AcousticModelImpl(const AcousticModelConfig& config, const Cmvn& cmvn);

  // feats [B, T, F] raw features (not normalized), lengths [B] int64.
  // burn_in < 0: config().burn_in_frames (training passes a random count).
  // intermediate_layer in [1, num_layers): also returns the log-probs of
  // the shared output layer over that LSTM layer's output (1 = the first
  // layer's); 0 = none.
  AcousticOutput forward(const torch::Tensor& feats, const torch::Tensor& lengths, int64_t burn_in = -1,
                         int64_t intermediate_layer = 0);

  // Streaming: one output frame for each of B streams. x [B, F * k] holds k
  // stacked, already normalized frames per stream (see FrameStacker);
  // state as LayerNormLstm's (undefined = zeros). Returns log-probs [B, V]
  // and updates *state. No autograd. Unidirectional models only. A
  // stream's first input must go through BurnIn() first.
  torch::Tensor StepLogProbs(const torch::Tensor& x, LstmState* state);
  // Runs config().burn_in_frames steps of x (the streams' first stacked
  // inputs, [B, F * k]) from *state (undefined = zeros), outputs dropped.
  void BurnIn(const torch::Tensor& x, LstmState* state);

  // dtype of the LSTM's activations (default fp32; bf16/fp16 for mixed
  // precision on CUDA). Parameters stay fp32; outputs return to fp32.
  void set_lstm_dtype(torch::ScalarType dtype) { lstm_dtype_ = dtype; }

  const AcousticModelConfig& config() const { return config_; }
  const Vocabulary& vocabulary() const { return vocab_; }
  const Cmvn& cmvn() const { return cmvn_; }
  LayerNormLstm& lstm() { return lstm_; }
  torch::Device device() const { return cmvn_mean_.device(); }

  // [B, T, F] raw features -> [B, T, F] normalized: global CMVN, or online
  // CMN per row from its frame 0 (frames past a row's length do not reach
  // earlier frames). Matches StreamingFeaturePipeline frame for frame.
  torch::Tensor Normalize(const torch::Tensor& feats) const;

  // [B, T, F] -> normalized and stacked [burn_in + T', B, F * k] (burn-in
  // copies of each row's first stacked frame first) and lengths T' (burn-in
  // not counted).
  std::pair<torch::Tensor, torch::Tensor> PrepareInput(const torch::Tensor& feats,
                                                       const torch::Tensor& lengths, int64_t burn_in) const;

 private:
  AcousticModelConfig config_;
  torch::ScalarType lstm_dtype_ = torch::kFloat32;
  Vocabulary vocab_;
  Cmvn cmvn_;
  torch::Tensor cmvn_mean_, cmvn_inv_std_;  // buffers [F]
  LayerNormLstm lstm_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(AcousticModel);

// Collects normalized feature frames of one stream and emits stacked model
// inputs (k frames concatenated) every k frames; Flush() zero-pads a
// partial group at the end of input. Not thread-safe; one per stream.
class FrameStacker {
 public:
  FrameStacker(int dim, int k) : dim_(dim), k_(k) {}
  // frame: dim floats. Returns true when *out (dim * k floats) is complete.
  bool Push(const float* frame, std::vector<float>* out);
  // Emits a zero-padded partial group, if any; returns whether it did.
  bool Flush(std::vector<float>* out);

 private:
  int dim_, k_;
  std::vector<float> pending_;
};

}  // namespace asr
