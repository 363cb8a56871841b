// asr-eval: evaluates a model (or the model in a checkpoint) on a manifest.
//   asr-eval --model CKPT --manifest M.jsonl [--beam N] [--lexicon model|FILE|none] [--phrase
//   TEXT[:BOOST]]...
//            [--phrases FILE] [--device cpu|cuda]
//            [--threads N]
// Prints exactly one JSON line on stdout:
//   {"wer":…, "cer":…, "utterances":…, "failed":…, "audio_seconds":…, "rtf":…}
// Exit codes: 0 ok, 1 failed, 2 usage.
#include <torch/cuda.h>

#include <cstdio>

#include "model/tools/decode_cli.h"
#include "model/training/evaluator.h"

int main(int argc, char** argv) {
  asr::DecodeCliOptions opts;
  std::string manifest, device = "cpu";
  bool verbose = false;
  CLI::App app{"asr-eval: WER/CER of a model on a manifest, as one JSON line"};
  opts.AddTo(app);
  app.add_option("--manifest", manifest, "NeMo JSONL manifest or Kaldi data dir")->required();
  app.add_option("--device", device, "cpu|cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_flag(
      "--verbose", verbose,
      "print each utterance's id (manifest line or Kaldi id) and audio path, reference and hypothesis "
      "on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto setup = asr::SetUpDecoding(opts, "asr-eval");
  if (!setup) return 1;
  asr::LoadedModel* loaded = &setup->loaded;
  if (device == "cuda") {
    if (!torch::cuda::is_available()) {
      std::fprintf(stderr, "asr-eval: --device cuda but no CUDA device is available\n");
      return 1;
    }
    loaded->model->to(torch::kCUDA);
  }
  asr::DataReport report;
  auto utts = asr::ReadDataset(manifest, &report);
  if (!utts.ok()) {
    std::fprintf(stderr, "asr-eval: %s\n", std::string(utts.status().message()).c_str());
    return 1;
  }
  asr::DataOptions data = asr::DataOptions::Default();
  data.max_utterance_seconds = 3600;
  const asr::AcousticModelConfig& cfg = loaded->model->config();
  asr::Dataset ds(std::move(*utts), cfg.features, loaded->model->vocabulary(), data, /*train=*/false, 0,
                  &report);
  for (const std::string& p : report.problems) std::fprintf(stderr, "asr-eval: skipped %s\n", p.c_str());
  const asr::EvalResult r = asr::Evaluate(loaded->model, ds, setup->decoder, [&](const asr::EvalSample& s) {
    if (!verbose) return;
    const asr::Utterance& u = ds.utterance(s.index);
    std::fprintf(stderr, "utt: %s %s\nref: %s\nhyp: %s\n", u.id.c_str(), u.audio_path.c_str(),
                 s.reference.c_str(), s.hypothesis.c_str());
  });
  for (const std::string& p : ds.TakeProblems()) std::fprintf(stderr, "asr-eval: %s\n", p.c_str());
  std::printf(
      "{\"wer\": %.6f, \"cer\": %.6f, \"utterances\": %lld, \"failed\": %lld, \"audio_seconds\": %.3f, "
      "\"rtf\": %.6f}\n",
      r.wer, r.cer, static_cast<long long>(r.utterances), static_cast<long long>(r.failed + report.skipped),
      r.audio_seconds, r.rtf());
  return 0;
}
