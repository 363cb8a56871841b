// asr-export: writes a model (or a checkpoint's model) in formats other
// tools read, to take it away from this service:
//   asr-export --model M.asrmodel --out DIR [--reference-audio WAV]...
// DIR/model.safetensors  every parameter and buffer as float32, named as in
//                        the C++ module: "lstm.w_x_l0", "lstm.w_h_l0",
//                        "lstm.g_x_l0", "lstm.g_h_l0", "lstm.bias_l0",
//                        "lstm.g_c_l0", "lstm.b_c_l0" (per layer; "_reverse"
//                        for the backward direction; "lstm.w_r_l0" with a
//                        projection), "output.weight", "output.bias",
//                        "cmvn_mean", "cmvn_inv_std"
// DIR/config.json        the model config (features, frame_stacking, sizes,
//                        ln_eps, burn_in_frames, online_cmn, units)
// DIR/vocab.json         {"blank": 0, "units": ["", " ", "'", "a", ...] by id, "word_units": bool}
// DIR/cmvn.json          {"mean": [F], "inv_std": [F], "stats": {...}}
// DIR/reference/N.features.npy, N.log_probs.npy: for the N-th
//                        --reference-audio, its raw features [T, F] and the
//                        model's log-probabilities [T', V] for them: what a
//                        port of the model must reproduce.
// client/python/asr_client/torch_model.py loads the export in PyTorch.
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "features/audio.h"
#include "features/npy.h"
#include "features/pipeline.h"
#include "model/base/atomic_file.h"
#include "model/compute_threads.h"
#include "model/model_io.h"
#include "nlohmann/json.hpp"

namespace {

// The safetensors format: an 8-byte little-endian header length, a JSON
// header {name: {"dtype", "shape", "data_offsets": [begin, end)}} padded
// with spaces to 8 bytes, then the tensors' bytes (C order, little-endian).
std::string Safetensors(const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}, {"source", "asr-export"}}}};
  std::string data;
  for (const auto& [name, t] : tensors) {
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const size_t begin = data.size(), bytes = static_cast<size_t>(c.numel()) * sizeof(float);
    data.append(reinterpret_cast<const char*>(c.data_ptr<float>()), bytes);
    header[name] = {{"dtype", "F32"}, {"shape", c.sizes().vec()}, {"data_offsets", {begin, begin + bytes}}};
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + h + data;
}

asr::Matrix ToMatrix(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return asr::Matrix(c.size(0), c.size(1),
                     std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "asr-export: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asr-export: writes a model as safetensors weights plus JSON config, vocabulary and CMVN"};
  std::string model_path, out;
  std::vector<std::string> references;
  app.add_option("--model", model_path, "model (.asrmodel) or checkpoint (.asrckpt)")->required();
  app.add_option("--out", out, "output directory (created)")->required();
  app.add_option("--reference-audio", references,
                 "audio files whose features and log-probabilities go to OUT/reference/ (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  asr::SetComputeThreads(asr::ResolveComputeThreads(0));
  auto loaded = asr::LoadModel(model_path);
  if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
  asr::AcousticModel& model = loaded->model;
  std::error_code ec;
  std::filesystem::create_directories(out + "/reference", ec);
  if (ec) return Fail(absl::StrCat(out, ": ", ec.message()));

  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers()) tensors.emplace_back(b.key(), b.value());
  const asr::Vocabulary& vocab = model->vocabulary();
  nlohmann::json units = nlohmann::json::array({""});
  for (int64_t id = 1; id < vocab.size(); ++id) units.push_back(vocab.Unit(id));
  const asr::Cmvn& cmvn = model->cmvn();
  const std::vector<std::pair<std::string, std::string>> files = {
      {"model.safetensors", Safetensors(tensors)},
      {"config.json", model->config().ToJson().dump(2) + "\n"},
      {"vocab.json",
       nlohmann::json{
           {"blank", asr::Vocabulary::kBlank}, {"units", units}, {"word_units", vocab.word_units()}}
               .dump(2) +
           "\n"},
      {"cmvn.json", nlohmann::json{{"mean", cmvn.mean()},
                                   {"inv_std", cmvn.inv_std()},
                                   {"stats", nlohmann::json::parse(cmvn.ToJson())}}
                            .dump() +
                        "\n"},
  };
  for (const auto& [name, bytes] : files) {
    if (absl::Status st = asr::WriteFileAtomically(out + "/" + name, bytes); !st.ok()) {
      return Fail(std::string(st.message()));
    }
    // Files to hand on: readable by all, as a download would be.
    std::filesystem::permissions(out + "/" + name, std::filesystem::perms(0644), ec);
  }

  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < references.size(); ++i) {
    auto audio = asr::DecodeAudioFile(references[i]);
    if (!audio.ok()) return Fail(std::string(audio.status().message()));
    auto feats = asr::ExtractFeatures(*audio, model->config().features);
    if (!feats.ok()) return Fail(absl::StrCat(references[i], ": ", feats.status().message()));
    const torch::Tensor x =
        torch::from_blob(feats->data.data(), {1, feats->rows, feats->cols}, torch::kFloat32).clone();
    const asr::AcousticOutput y = model->forward(x, torch::tensor({x.size(1)}));
    const std::string base = absl::StrCat(out, "/reference/", i);
    for (const auto& [path, m] :
         {std::make_pair(base + ".features.npy", *feats),
          std::make_pair(base + ".log_probs.npy", ToMatrix(y.log_probs.select(1, 0)))}) {
      if (absl::Status st = asr::WriteNpy(path, m); !st.ok()) return Fail(std::string(st.message()));
    }
  }
  std::printf("asr-export: %s -> %s (%zu tensors, %lld units, %zu reference utterances)\n",
              model_path.c_str(), out.c_str(), tensors.size(), static_cast<long long>(vocab.size()),
              references.size());
  return 0;
}
