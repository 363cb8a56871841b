// Evaluation of an AcousticModel on a dataset: CTC loss, CER and WER of
// greedy or beam decoding, failures, audio seconds and real-time factor.
// Shared by the trainer's validation and asr-eval.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/acoustic_model.h"
#include "model/ctc.h"
#include "model/training/dataset.h"

namespace asr {

struct EvalResult {
  double loss = 0;          // mean CTC loss per batch (mean over target lengths)
  double cer = 0, wer = 0;  // over all utterances
  int64_t utterances = 0;   // decoded
  int64_t failed = 0;       // could not be loaded
  double audio_seconds = 0;
  double compute_seconds = 0;  // wall time of features + model + decoding
  double rtf() const { return audio_seconds > 0 ? compute_seconds / audio_seconds : 0; }
};

// One decoded utterance, for callers that want to see them.
struct EvalSample {
  int64_t index;
  std::string reference, hypothesis;
};

// Runs `model` (left in eval mode) over every utterance of `data` on the
// model's device, decoding with `decode` (beam width, lexicon, phrases; its
// frame_seconds is replaced by the model's); `on_sample` (optional) sees
// each hypothesis.
EvalResult Evaluate(AcousticModel& model, const Dataset& data, CtcDecoderOptions decode,
                    const std::function<void(const EvalSample&)>& on_sample = {});
// The same with `beam` (1 = greedy) and nothing else.
inline EvalResult Evaluate(AcousticModel& model, const Dataset& data, int beam,
                           const std::function<void(const EvalSample&)>& on_sample = {}) {
  return Evaluate(model, data, CtcDecoderOptions(beam, 0), on_sample);
}

}  // namespace asr
