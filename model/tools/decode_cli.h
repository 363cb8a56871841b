// What the decoding command-line tools (asr-eval, asr-transcribe) share:
// the --model, --beam, --lexicon, --phrase(s) and --threads options and the start-up that
// follows them. Header-only; include from a main() only (needs CLI11).
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "model/base/phrase_arg.h"
#include "model/compute_threads.h"
#include "model/context_graph.h"
#include "model/ctc.h"
#include "model/model_io.h"

namespace asr {

struct DecodeCliOptions {
  std::string model_path;
  std::string lexicon = "none";
  std::vector<std::string> phrases;  // TEXT or TEXT:BOOST
  std::string phrases_file;          // one TEXT or TEXT:BOOST a line
  int beam = 1;
  int threads = 0;

  void AddTo(CLI::App& app) {
    app.add_option("--model", model_path, "model (.asrmodel) or checkpoint (.asrckpt)")->required();
    app.add_option("--beam", beam, "beam width (1 = greedy; 8 when a lexicon or phrases are given)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option(
           "--lexicon", lexicon,
           "closed word list for beam search: 'model' (the words of the model's training transcripts), "
           "a file with one word per line, or 'none'")
        ->capture_default_str();
    app.add_option("--phrase", phrases,
                   "TEXT or TEXT:BOOST, repeatable: favour this phrase (boost = log-probability bonus per "
                   "output unit, default 0.5)");
    app.add_option("--phrases", phrases_file, "a file of phrases to favour, one TEXT or TEXT:BOOST a line")
        ->check(CLI::ExistingFile);
    app.add_option("--threads", threads, "LibTorch + BLAS threads (0 = half the cores)");
  }
};

struct DecodeSetup {
  LoadedModel loaded;
  // Beam 8 for a lexicon or phrases unless --beam says otherwise;
  // frame_seconds is the model's.
  CtcDecoderOptions decoder;
};

// The --phrase and --phrases phrases, in that order.
inline absl::StatusOr<std::vector<BoostedPhrase>> ReadPhrases(const DecodeCliOptions& o) {
  std::vector<std::string> args = o.phrases;
  if (!o.phrases_file.empty()) {
    std::ifstream in(o.phrases_file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") != std::string::npos) args.push_back(line);
    }
    if (in.bad()) return absl::InvalidArgumentError("--phrases: cannot read " + o.phrases_file);
  }
  std::vector<BoostedPhrase> phrases;
  for (const std::string& arg : args) {
    auto p = ParsePhraseArg(arg);
    if (!p.ok()) return p.status();
    phrases.push_back({p->first, p->second});
  }
  return phrases;
}

// Sets the compute threads, loads the model and resolves the lexicon and
// phrases; on error prints "<program>: <reason>" on stderr and returns nothing.
inline std::optional<DecodeSetup> SetUpDecoding(const DecodeCliOptions& o, const char* program) {
  const auto fail = [program](const absl::Status& st) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(st.message()).c_str());
    return std::nullopt;
  };
  SetComputeThreads(ResolveComputeThreads(o.threads));
  auto loaded = LoadModel(o.model_path);
  if (!loaded.ok()) return fail(loaded.status());
  auto lexicon = ResolveLexicon(o.lexicon, loaded->model);
  if (!lexicon.ok()) return fail(lexicon.status());
  auto phrases = ReadPhrases(o);
  if (!phrases.ok()) return fail(phrases.status());
  auto graph = ContextGraph::Create(loaded->model->vocabulary(), *phrases);
  if (!graph.ok()) return fail(graph.status());
  const int beam = (*lexicon || *graph) && o.beam == 1 ? 8 : o.beam;
  CtcDecoderOptions decoder(beam, loaded->model->config().output_frame_seconds(), std::move(*lexicon));
  decoder.phrases = std::move(*graph);
  return DecodeSetup{std::move(*loaded), std::move(decoder)};
}

}  // namespace asr
