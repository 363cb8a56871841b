// asr-transcribe: prints each audio file's transcript with word timings.
//   asr-transcribe --model M [--beam N] [--lexicon model|FILE|none] [--phrase TEXT[:BOOST]]... [--phrases
//   FILE]
//                  [--json] AUDIO...
// Any container/rate/channel count features/ reads. Exit 1 if any file failed.
#include <cstdio>

#include "model/recognizer/recognizer.h"
#include "model/tools/decode_cli.h"
#include "nlohmann/json.hpp"

namespace {

void Print(const std::string& file, const asr::Transcript& t, bool json) {
  if (json) {
    nlohmann::json words = nlohmann::json::array();
    for (const auto& w : t.words) {
      words.push_back({{"word", w.word},
                       {"start", w.start_seconds},
                       {"end", w.end_seconds},
                       {"confidence", w.confidence}});
    }
    const nlohmann::json line = {
        {"file", file}, {"text", t.text}, {"confidence", t.confidence}, {"words", words}};
    std::printf("%s\n", line.dump().c_str());
    return;
  }
  std::printf("%s: %s\n", file.c_str(), t.text.c_str());
  for (const auto& w : t.words) {
    std::printf("  %-16s %7.2f %7.2f  %.2f\n", w.word.c_str(), w.start_seconds, w.end_seconds, w.confidence);
  }
}

}  // namespace

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
  const auto model = asr::RecognizerModel::Create(setup->loaded.model, opts.model_path);
  const asr::CtcDecoderOptions& decoder = setup->decoder;
  int rc = 0;
  for (const std::string& f : files) {
    auto audio = asr::DecodeAudioFile(f);
    auto result = audio.ok() ? asr::Recognize(*model, *audio, decoder)
                             : absl::StatusOr<asr::OfflineResult>(audio.status());
    if (!result.ok()) {
      std::fprintf(stderr, "asr-transcribe: %s\n", std::string(result.status().message()).c_str());
      rc = 1;
      continue;
    }
    Print(f, result->alternatives.empty() ? asr::Transcript{} : result->alternatives.front(), json);
  }
  return rc;
}
