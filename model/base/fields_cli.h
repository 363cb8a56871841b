// Command-line flags for option structs (fields.h): every field that names
// a flag becomes a CLI11 option bound to it, with its environment variable,
// help and default; sections are walked. Header-only; include from a main()
// that links CLI11.
#pragma once

#include <type_traits>
#include <vector>

#include "CLI/CLI.hpp"
#include "model/base/fields.h"

namespace asr::fields {

class FlagAdder {
 public:
  explicit FlagAdder(CLI::App& app) : app_(app) {}
  template <class T>
  void operator()(const FieldInfo& f, T& value) {
    if constexpr (kIsOptions<T>) {
      Visit(value, *this);
    } else {
      if (f.flag == nullptr) return;
      CLI::Option* o = app_.add_option(f.flag, value, f.help);
      if (f.env != nullptr) o->envname(f.env);
      if constexpr (IsStdVector<T>::value) {
        o->delimiter(',');
      } else {
        o->capture_default_str();
      }
    }
  }

 private:
  CLI::App& app_;
};

// Adds a flag to `app` for each field of `options` that names one; parsing
// writes into `options`, which must outlive the parse.
template <class T>
void AddFlags(CLI::App& app, T& options) {
  FlagAdder adder(app);
  Visit(options, adder);
}

}  // namespace asr::fields
