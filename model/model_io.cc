#include "model/model_io.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "model/bundle.h"

namespace asr {

std::string SerializeModule(torch::nn::Module& module) {
  torch::serialize::OutputArchive archive;
  for (const auto& p : module.named_parameters()) archive.write(p.key(), p.value().detach().cpu());
  for (const auto& b : module.named_buffers()) archive.write(b.key(), b.value().cpu(), /*is_buffer=*/true);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

absl::Status DeserializeModule(const std::string& bytes, torch::nn::Module& module,
                               const std::string& source) {
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in);
    torch::NoGradGuard no_grad;
    for (auto& p : module.named_parameters()) {
      torch::Tensor t;
      archive.read(p.key(), t);
      if (t.sizes() != p.value().sizes()) {
        return absl::DataLossError(absl::StrCat("'", source, "': parameter ", p.key(), " has shape ",
                                                c10::str(t.sizes()), ", model expects ",
                                                c10::str(p.value().sizes())));
      }
      p.value().copy_(t);
    }
    for (auto& b : module.named_buffers()) {
      torch::Tensor t;
      archive.read(b.key(), t, /*is_buffer=*/true);
      b.value().copy_(t);
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat("'", source, "': cannot read weights: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status SaveModel(const std::string& path, AcousticModel& model, const nlohmann::json& metadata) {
  const nlohmann::json meta = {{"format_version", 1},
                               {"config", model->config().ToJson()},
                               {"cmvn", nlohmann::json::parse(model->cmvn().ToJson())},
                               {"metadata", metadata.is_null() ? nlohmann::json::object() : metadata}};
  return WriteBundleAtomically(path, Bundle{"model", meta.dump(), {{"model", SerializeModule(*model)}}});
}

absl::StatusOr<std::shared_ptr<const Lexicon>> ResolveLexicon(const std::string& spec,
                                                              const AcousticModel& model) {
  if (spec == "none" || spec.empty()) return std::shared_ptr<const Lexicon>();
  std::vector<std::string> words;
  if (spec == "model") {
    words = model->config().lexicon;
    if (words.empty()) return absl::FailedPreconditionError("--lexicon model: this model records no lexicon");
  } else {
    std::ifstream in(spec);
    if (!in) return absl::NotFoundError(absl::StrCat("lexicon '", spec, "': cannot open"));
    for (std::string line; std::getline(in, line);) {
      const size_t a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
      if (a != std::string::npos) words.push_back(line.substr(a, b - a + 1));
    }
  }
  auto lex = Lexicon::Create(model->vocabulary(), words);
  if (!lex.ok())
    return absl::InvalidArgumentError(absl::StrCat("lexicon '", spec, "': ", lex.status().message()));
  return lex;
}

absl::StatusOr<LoadedModel> LoadModel(const std::string& path) {
  auto bundle = ReadBundle(path);
  if (!bundle.ok()) return bundle.status();
  if (bundle->kind != "model" && bundle->kind != "checkpoint") {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' holds a '", bundle->kind, "', not a model"));
  }
  const nlohmann::json meta = nlohmann::json::parse(bundle->json, nullptr, false);
  if (meta.is_discarded() || !meta.contains("config") || !meta.contains("cmvn")) {
    return absl::DataLossError(absl::StrCat("'", path, "': metadata lacks config or cmvn"));
  }
  auto config = AcousticModelConfig::FromJson(meta["config"]);
  if (!config.ok()) return absl::DataLossError(absl::StrCat("'", path, "': ", config.status().message()));
  auto cmvn = Cmvn::FromJson(meta["cmvn"].dump());
  if (!cmvn.ok()) return absl::DataLossError(absl::StrCat("'", path, "': ", cmvn.status().message()));
  LoadedModel out;
  out.model = AcousticModel(*config, *cmvn);
  // Models and checkpoints both keep the weights in the "model" blob; a
  // checkpoint of a run with weight averaging also holds the average, which
  // is what that run validated and exported, so it is what is served.
  auto weights = bundle->blobs.find("averaged");
  if (weights == bundle->blobs.end()) weights = bundle->blobs.find("model");
  if (weights == bundle->blobs.end())
    return absl::DataLossError(absl::StrCat("'", path, "': no model weights"));
  if (absl::Status st = DeserializeModule(weights->second, *out.model, path); !st.ok()) return st;
  out.model->eval();
  out.metadata = meta.value("metadata", nlohmann::json::object());
  return out;
}

}  // namespace asr
