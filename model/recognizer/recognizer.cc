#include "model/recognizer/recognizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "features/pipeline.h"

namespace asr {
namespace {

// Steps `streams` (all of one model, each with a popped input in `inputs`)
// once, batched; feeds each its log-probabilities and settles it.
void StepBatch(const RecognizerModel& model, const std::vector<RecognitionStream*>& streams,
               const std::vector<std::vector<float>>& inputs, LstmState* const* states,
               RecognitionObserver* observer,
               const std::function<void(size_t, const float*, int64_t)>& output) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = static_cast<int64_t>(streams.size());
  const int64_t dim = static_cast<int64_t>(inputs.front().size());
  torch::Tensor x = torch::empty({n, dim});
  for (int64_t i = 0; i < n; ++i) std::memcpy(x[i].data_ptr<float>(), inputs[i].data(), dim * sizeof(float));
  AcousticModel& m = const_cast<AcousticModel&>(model.network);
  // New streams first warm their LSTM up on their first input (burn-in).
  std::vector<int64_t> fresh;
  for (int64_t i = 0; i < n; ++i) {
    if (!states[i]->h.defined()) fresh.push_back(i);
  }
  if (!fresh.empty()) {
    LstmState warm;
    m->BurnIn(x.index_select(0, torch::tensor(fresh)), &warm);
    for (size_t j = 0; j < fresh.size(); ++j) {
      const int64_t k = static_cast<int64_t>(j);
      *states[fresh[j]] = {warm.h.narrow(1, k, 1).clone(), warm.c.narrow(1, k, 1).clone()};
    }
  }
  std::vector<torch::Tensor> hs, cs;
  for (int64_t i = 0; i < n; ++i) {
    hs.push_back(states[i]->h);
    cs.push_back(states[i]->c);
  }
  LstmState state{torch::cat(hs, 1), torch::cat(cs, 1)};
  const torch::Tensor logp = m->StepLogProbs(x, &state).contiguous();
  for (int64_t i = 0; i < n; ++i)
    *states[i] = {state.h.narrow(1, i, 1).clone(), state.c.narrow(1, i, 1).clone()};
  if (observer) {
    observer->OnBatch(static_cast<int>(n),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                      static_cast<double>(n) * model.output_frame_seconds());
  }
  const int64_t vocab = logp.size(1);
  for (int64_t i = 0; i < n; ++i) output(static_cast<size_t>(i), logp.data_ptr<float>() + i * vocab, vocab);
}

}  // namespace

void DecodeStreams(const std::vector<RecognitionStream*>& streams, RecognitionObserver* observer,
                   const SettledCallback& settled) {
  torch::NoGradGuard no_grad;
  // Settles streams[index], with the model's output for it if it had input.
  auto finish = [&](size_t index, const float* log_probs, int64_t vocab) {
    RecognitionStream* s = streams[index];
    if (!settled) {
      if (log_probs != nullptr) s->AcceptLogProbs(log_probs, vocab);
      s->Settle();
      return;
    }
    bool last = false;
    std::vector<RecognitionResult> results = s->DecodeOutput(log_probs, vocab, &last);
    settled(index, std::move(results), last);
  };
  // The streams with input, grouped by model (one batched step per model;
  // a server's batch has one), as indices into `streams`.
  struct Group {
    const RecognizerModel* model;
    std::vector<size_t> members;
    std::vector<std::vector<float>> inputs;
  };
  std::vector<Group> groups;
  std::vector<size_t> idle;
  for (size_t i = 0; i < streams.size(); ++i) {
    std::vector<float> x;
    if (!streams[i]->PopInput(&x)) {
      idle.push_back(i);
      continue;
    }
    const RecognizerModel* model = &streams[i]->model();
    auto g = std::find_if(groups.begin(), groups.end(), [model](const Group& g) { return g.model == model; });
    if (g == groups.end()) g = groups.insert(groups.end(), Group{model, {}, {}});
    g->members.push_back(i);
    g->inputs.push_back(std::move(x));
  }
  for (const Group& g : groups) {
    // The LSTM states belong to the decode side, which this call is.
    std::vector<RecognitionStream*> members;
    std::vector<LstmState*> states;
    for (size_t i : g.members) {
      members.push_back(streams[i]);
      states.push_back(&streams[i]->state_);
    }
    StepBatch(
        *g.model, members, g.inputs, states.data(), observer,
        [&](size_t k, const float* log_probs, int64_t vocab) { finish(g.members[k], log_probs, vocab); });
  }
  for (size_t i : idle) finish(i, nullptr, 0);
}

absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const Audio& audio,
                                        const DecodingOptions& decoding, const EndpointOptions& endpoint) {
  if (absl::Status st = decoding.Validate(); !st.ok()) return st;
  if (absl::Status st = endpoint.Validate(); !st.ok()) return st;
  auto decoder = decoding.DecoderFor(model);
  if (!decoder.ok()) return decoder.status();
  return Recognize(model, audio, *decoder, std::max(1, decoding.max_alternatives), endpoint);
}

namespace {

// `lp`'s frames (T x V log-probabilities, blank = 0) cut into utterances as
// a stream's endpointing would cut them, each decoded on its own (word
// times stay relative to the recording: the decoder's clock runs on
// across Reset).
std::vector<OfflineUtterance> Utterances(const RecognizerModel& model, const float* lp, int64_t frames,
                                         int64_t vocab, const CtcDecoderOptions& options, int alternatives,
                                         const EndpointOptions& endpoint) {
  AcousticModel& m = const_cast<AcousticModel&>(model.network);
  const double frame_s = model.output_frame_seconds(), endpoint_s = endpoint.effective_seconds();
  CtcDecoder decoder(m->vocabulary(), options);
  std::vector<OfflineUtterance> out;
  int64_t first_speech = -1;
  auto cut = [&](int64_t end_frame) {
    OfflineUtterance u;
    u.alternatives = decoder.NBest(alternatives);
    u.start_seconds = static_cast<double>(std::max<int64_t>(first_speech, 0)) * frame_s;
    u.end_seconds = static_cast<double>(end_frame - decoder.trailing_blank_frames()) * frame_s;
    if (first_speech < 0) u.end_seconds = static_cast<double>(end_frame) * frame_s;  // no speech at all
    out.push_back(std::move(u));
    decoder.Reset();
    first_speech = -1;
  };
  for (int64_t t = 0; t < frames; ++t) {
    const float* frame = lp + t * vocab;
    decoder.Accept(frame, 1);
    if (first_speech < 0 && std::max_element(frame, frame + vocab) != frame) first_speech = t;
    if (endpoint_s > 0 && decoder.has_speech() &&
        static_cast<double>(decoder.trailing_blank_frames()) * frame_s >= endpoint_s) {
      cut(t + 1);
    }
  }
  if (decoder.has_speech() || out.empty()) cut(frames);
  return out;
}

}  // namespace

absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const Audio& audio,
                                        const CtcDecoderOptions& decoder_options, int alternatives,
                                        const EndpointOptions& endpoint) {
  AcousticModel& m = const_cast<AcousticModel&>(model.network);
  auto feats = ExtractFeatures(audio, m->config().features);
  if (!feats.ok()) return feats.status();
  OfflineResult result;
  result.audio_seconds = audio.duration_seconds();
  if (feats->rows == 0) return result;
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::from_blob(feats->data.data(), {1, feats->rows, feats->cols}).clone();
  const AcousticOutput out = m->forward(x, torch::tensor({feats->rows}));
  CtcDecoder decoder(m->vocabulary(), decoder_options);
  const torch::Tensor lp = out.log_probs.select(1, 0).contiguous();
  decoder.Accept(lp.data_ptr<float>(), lp.size(0));
  result.alternatives = decoder.NBest(std::max(1, alternatives));
  result.utterances = Utterances(model, lp.data_ptr<float>(), lp.size(0), lp.size(1), decoder_options,
                                 std::max(1, alternatives), endpoint);
  return result;
}

absl::StatusOr<OfflineResult> Recognize(const RecognizerModel& model, const std::string& bytes,
                                        const AudioFormat& format, const DecodingOptions& decoding,
                                        double max_seconds, const EndpointOptions& endpoint) {
  if (absl::Status st = format.Validate(/*stream=*/false); !st.ok()) return st;
  if (absl::Status st = decoding.Validate(); !st.ok()) return st;
  DecodeOptions dec;
  dec.max_seconds = max_seconds;
  absl::StatusOr<Audio> audio;
  if (format.raw()) {
    audio = DecodeRawPcm(bytes.data(), bytes.size(), format.raw_format(), "audio", dec);
  } else {
    audio = DecodeAudioBuffer(bytes.data(), bytes.size(), "audio", dec);
  }
  if (!audio.ok()) return audio.status();
  return Recognize(model, *audio, decoding, endpoint);
}

}  // namespace asr
