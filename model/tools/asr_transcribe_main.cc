// asr-transcribe: prints each audio file's transcript with word timings.
//   asr-transcribe --model M [--beam N] [--lexicon model|FILE|none] [--json] AUDIO...
// Any container/rate/channel count features/ reads. Exit 1 if any file failed.
#include <cstdio>

#include "features/pipeline.h"
#include "model/tools/decode_cli.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  asr::DecodeCliOptions opts;
  std::vector<std::string> files;
  bool json = false;
  CLI::App app{"asr-transcribe: transcripts with word timings"};
  opts.AddTo(app);
  app.add_flag("--json", json, "one JSON object per file");
  app.add_option("audio", files, "audio files")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto setup = asr::SetUpDecoding(opts, "asr-transcribe");
  if (!setup) return 1;
  asr::AcousticModel& model = setup->loaded.model;
  int rc = 0;
  for (const std::string& f : files) {
    auto audio = asr::DecodeAudioFile(f);
    absl::StatusOr<asr::Matrix> feats = audio.ok() ? asr::ExtractFeatures(*audio, model->config().features)
                                                   : absl::StatusOr<asr::Matrix>(audio.status());
    if (!feats.ok()) {
      std::fprintf(stderr, "asr-transcribe: %s\n", std::string(feats.status().message()).c_str());
      rc = 1;
      continue;
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::from_blob(feats->data.data(), {1, feats->rows, feats->cols}).clone();
    const asr::AcousticOutput out = model->forward(x, torch::tensor({feats->rows}));
    const asr::Transcript t =
        asr::CtcDecode(out.log_probs.select(1, 0), model->vocabulary(),
                       {setup->beam, model->config().output_frame_seconds(), setup->lexicon});
    if (json) {
      nlohmann::json words = nlohmann::json::array();
      for (const auto& w : t.words) {
        words.push_back({{"word", w.word},
                         {"start", w.start_seconds},
                         {"end", w.end_seconds},
                         {"confidence", w.confidence}});
      }
      std::printf(
          "%s\n",
          nlohmann::json{{"file", f}, {"text", t.text}, {"confidence", t.confidence}, {"words", words}}
              .dump()
              .c_str());
    } else {
      std::printf("%s: %s\n", f.c_str(), t.text.c_str());
      for (const auto& w : t.words) {
        std::printf("  %-16s %7.2f %7.2f  %.2f\n", w.word.c_str(), w.start_seconds, w.end_seconds,
                    w.confidence);
      }
    }
  }
  return rc;
}
