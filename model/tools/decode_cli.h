// What the decoding command-line tools (asr-eval, asr-transcribe) share:
// the --model, --beam, --lexicon and --threads options and the start-up that
// follows them. Header-only; include from a main() only (needs CLI11).
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "model/compute_threads.h"
#include "model/ctc.h"
#include "model/model_io.h"

namespace asr {

struct DecodeCliOptions {
  std::string model_path;
  std::string lexicon = "none";
  int beam = 1;
  int threads = 0;

  void AddTo(CLI::App& app) {
    app.add_option("--model", model_path, "model (.asrmodel) or checkpoint (.asrckpt)")->required();
    app.add_option("--beam", beam, "beam width (1 = greedy; 8 when a lexicon is given)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option(
           "--lexicon", lexicon,
           "closed word list for beam search: 'model' (the words of the model's training transcripts), "
           "a file with one word per line, or 'none'")
        ->capture_default_str();
    app.add_option("--threads", threads, "LibTorch + BLAS threads (0 = half the cores)");
  }
};

struct DecodeSetup {
  LoadedModel loaded;
  std::shared_ptr<const Lexicon> lexicon;  // null = open vocabulary
  int beam = 1;                            // the lexicon constrains beam search: 8 unless asked otherwise
};

// Sets the compute threads, loads the model and resolves the lexicon; on
// error prints "<program>: <reason>" on stderr and returns nothing.
inline std::optional<DecodeSetup> SetUpDecoding(const DecodeCliOptions& o, const char* program) {
  SetComputeThreads(ResolveComputeThreads(o.threads));
  auto loaded = LoadModel(o.model_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(loaded.status().message()).c_str());
    return std::nullopt;
  }
  auto lexicon = ResolveLexicon(o.lexicon, loaded->model);
  if (!lexicon.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(lexicon.status().message()).c_str());
    return std::nullopt;
  }
  const int beam = *lexicon && o.beam == 1 ? 8 : o.beam;
  return DecodeSetup{std::move(*loaded), std::move(*lexicon), beam};
}

}  // namespace asr
