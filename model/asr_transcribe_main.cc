// asr-transcribe: prints each audio file's transcript with word timings.
//   asr-transcribe --model M [--beam N] [--lexicon model|FILE|none] [--json] AUDIO...
// Any container/rate/channel count features/ reads. Exit 1 if any file failed.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "features/pipeline.h"
#include "model/compute_threads.h"
#include "model/ctc.h"
#include "model/model_io.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  std::string model_path, lexicon_arg = "none";
  std::vector<std::string> files;
  int beam = 1, threads = 0;
  bool json = false;
  CLI::App app{"asr-transcribe: transcripts with word timings"};
  app.add_option("--model", model_path, "model (.asrmodel) or checkpoint (.asrckpt)")->required();
  app.add_option("--beam", beam, "beam width (1 = greedy)")->check(CLI::Range(1, 256));
  app.add_option("--lexicon", lexicon_arg, "closed word list for beam search: model, FILE or none")
      ->capture_default_str();
  app.add_option("--threads", threads, "LibTorch + BLAS threads (0 = half the cores)");
  app.add_flag("--json", json, "one JSON object per file");
  app.add_option("audio", files, "audio files")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  asr::SetComputeThreads(asr::ResolveComputeThreads(threads));
  auto loaded = asr::LoadModel(model_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "asr-transcribe: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  asr::AcousticModel& model = loaded->model;
  auto lexicon = asr::ResolveLexicon(lexicon_arg, model);
  if (!lexicon.ok()) {
    std::fprintf(stderr, "asr-transcribe: %s\n", std::string(lexicon.status().message()).c_str());
    return 1;
  }
  if (*lexicon && beam == 1) beam = 8;  // the lexicon constrains beam search
  int rc = 0;
  for (const std::string& f : files) {
    auto audio = asr::DecodeAudioFile(f);
    absl::StatusOr<asr::Matrix> feats =
        audio.ok() ? asr::ExtractFeatures(*audio, model->config().features) : absl::StatusOr<asr::Matrix>(audio.status());
    if (!feats.ok()) {
      std::fprintf(stderr, "asr-transcribe: %s\n", std::string(feats.status().message()).c_str());
      rc = 1;
      continue;
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::from_blob(feats->data.data(), {1, feats->rows, feats->cols}).clone();
    const asr::AcousticOutput out = model->forward(x, torch::tensor({feats->rows}));
    const asr::Transcript t = asr::CtcDecode(out.log_probs.select(1, 0), model->vocabulary(),
                                             {beam, model->config().output_frame_seconds(), *lexicon});
    if (json) {
      nlohmann::json words = nlohmann::json::array();
      for (const auto& w : t.words) {
        words.push_back({{"word", w.word}, {"start", w.start_seconds}, {"end", w.end_seconds}, {"confidence", w.confidence}});
      }
      std::printf("%s\n", nlohmann::json{{"file", f}, {"text", t.text}, {"confidence", t.confidence}, {"words", words}}
                              .dump()
                              .c_str());
    } else {
      std::printf("%s: %s\n", f.c_str(), t.text.c_str());
      for (const auto& w : t.words) {
        std::printf("  %-16s %7.2f %7.2f  %.2f\n", w.word.c_str(), w.start_seconds, w.end_seconds, w.confidence);
      }
    }
  }
  return rc;
}
