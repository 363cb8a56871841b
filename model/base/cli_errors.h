// What a command-line tool says about arguments it cannot parse: CLI11's
// message, the nearest known option or command for a mistyped one ("did you
// mean --listen?"), and how to get the usage. Header-only; include from a
// main() that links CLI11.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "model/base/edit_distance.h"

namespace asr {

// The candidate nearest to `word`, if within a third of its length (at
// least 1 edit, at most 3); "" otherwise.
inline std::string Nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::clamp<size_t>(word.size() / 3, 1, 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = static_cast<size_t>(EditDistance(word, c));
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

// Handles a ParseError of `app` for argv: --help and --version print and
// return 0; anything else prints the error, a suggestion where one fits, and
// the way to the usage, and returns 2.
inline int ReportParseError(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  const std::string prog = app.get_name().empty() ? std::string(argv[0]) : app.get_name();
  std::fprintf(stderr, "%s: %s\n", prog.c_str(), e.what());
  std::vector<std::string> options, commands;
  std::vector<CLI::App*> apps = {&app};
  for (size_t i = 0; i < apps.size(); ++i) {
    for (const CLI::Option* o : apps[i]->get_options()) {
      for (const std::string& name : o->get_lnames()) options.push_back("--" + name);
    }
    for (CLI::App* sub : apps[i]->get_subcommands({})) {
      commands.push_back(sub->get_name());
      apps.push_back(sub);
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string name = arg.substr(0, arg.find('='));
    const bool is_option = name.rfind("--", 0) == 0;
    const auto& known = is_option ? options : commands;
    if (name.empty() || (!is_option && name[0] == '-') || std::count(known.begin(), known.end(), name))
      continue;
    if (const std::string near = Nearest(name, known); !near.empty()) {
      std::fprintf(stderr, "%s: unknown %s '%s'; did you mean '%s'?\n", prog.c_str(),
                   is_option ? "option" : "command", name.c_str(), near.c_str());
      break;
    }
  }
  std::fprintf(stderr, "Run '%s --help' for the usage.\n", prog.c_str());
  return 2;
}

}  // namespace asr
