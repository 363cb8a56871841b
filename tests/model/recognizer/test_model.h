// What the recognizer tests share: a small randomly initialized model whose
// output layer is scaled up so that its most likely symbol wins by a wide
// margin (batched, stepped and whole-sequence runs then agree on every
// argmax), a real speech recording, and PCM encoding.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "features/audio.h"
#include "features/pipeline.h"
#include "model/recognizer/recognizer_model.h"
#include "tests/support/process.h"

namespace asr::testing {

// Real speech, 16 kHz mono (the feature goldens' recording).
inline const Audio& Speech() {
  static const Audio audio =
      *DecodeAudioFile(std::string(ASR_SOURCE_DIR) + "/tests/golden/features/speech16k.wav");
  return audio;
}

// A 2-layer, 32-cell model on 20 mel bins with CMVN from Speech(); `seed`
// picks the weights. With `bidirectional`, an offline-only model.
inline std::shared_ptr<const RecognizerModel> RandomModel(uint64_t seed, const std::string& label,
                                                          bool bidirectional = false) {
  AcousticModelConfig c;
  c.features.fbank.mel_opts.num_bins = 20;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.frame_stacking = 3;
  c.dropout = 0;
  c.bidirectional = bidirectional;
  c.blank_bias_init = 0;
  c.burn_in_frames = 2;
  CmvnStats stats(20);
  (void)stats.Accumulate(*ExtractFeatures(Speech(), c.features));
  torch::manual_seed(seed);
  AcousticModel network(c, *Cmvn::FromStats(stats));
  torch::NoGradGuard no_grad;
  for (auto& p : network->named_parameters()) {
    if (p.key().rfind("output.", 0) == 0) p.value().mul_(40);
  }
  return RecognizerModel::Create(network, label);
}

// [-1, 1] samples as LINEAR16 bytes.
inline std::string Pcm16(const float* samples, size_t n) {
  std::string out(n * 2, '\0');
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<int16_t>(std::lrint(std::clamp(samples[i], -1.f, 1.f) * 32767));
    std::memcpy(&out[2 * i], &v, 2);
  }
  return out;
}

}  // namespace asr::testing
