#include "model/training/evaluator.h"

#include <chrono>

namespace asr {

EvalResult Evaluate(AcousticModel& model, const Dataset& data, CtcDecoderOptions decode,
                    const std::function<void(const EvalSample&)>& on_sample) {
  const auto start = std::chrono::steady_clock::now();
  model->eval();
  torch::NoGradGuard no_grad;
  EvalResult r;
  ErrorCounts counts;
  double loss_sum = 0;
  int64_t batches = 0;
  decode.frame_seconds = model->config().output_frame_seconds();
  const int64_t failed_before = data.failed();
  for (const std::vector<int64_t>& indices : data.EpochBatches(0)) {
    const Batch b = data.MakeBatch(indices, /*epoch=*/-1, batches);
    if (b.size() == 0) continue;
    const torch::Device dev = model->device();
    const AcousticOutput out = model->forward(b.feats.to(dev), b.feat_lengths);
    loss_sum += CtcLoss(out.log_probs, b.targets.to(dev), out.lengths, b.target_lengths).item<double>();
    ++batches;
    const torch::Tensor lp = out.log_probs.to(torch::kCPU);
    for (int64_t k = 0; k < b.size(); ++k) {
      const int64_t i = b.utterances[static_cast<size_t>(k)];
      const Transcript t = CtcDecode(lp.select(1, k).narrow(0, 0, out.lengths[k].item<int64_t>()),
                                     model->vocabulary(), decode);
      const std::string ref = model->vocabulary().Decode(data.targets(i));
      counts.Add(ref, t.text);
      r.audio_seconds += data.utterance(i).duration;
      ++r.utterances;
      if (on_sample) on_sample({i, ref, t.text});
    }
  }
  r.loss = batches ? loss_sum / static_cast<double>(batches) : 0;
  r.cer = counts.cer();
  r.wer = counts.wer();
  r.failed = data.failed() - failed_before;
  r.compute_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace asr
