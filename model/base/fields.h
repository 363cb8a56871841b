// Option fields, each defined once. An options struct lists its fields in
// one static member template,
//
//   struct OptimizerOptions {
//     double lr = 2e-3;                         // the member, with its default
//     std::array<double, 2> betas = {0.9, 0.98};
//     template <class S, class V>
//     static void Fields(S& s, V& v) {          // S: this struct, const or not
//       v({"lr", "peak learning rate (AdamW)"}, s.lr);
//       v({"betas", "AdamW's beta1 and beta2"}, s.betas);
//     }
//   };
//
// and everything that reads or writes options walks that list: JSON
// (fields_json.h), protobuf messages and command-line flags (server/),
// ToString() here. A visitor V is called as v(const FieldInfo&, T& value)
// for every field, nested option structs (sections) included.
//
// Field types: bool, int, int64_t, uint64_t, float, double, std::string,
// enums with an EnumNames() table (below), std::vector<double>,
// std::vector<std::string>, std::array<double, N>, and sections.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace asr::fields {

// Where a field is read and written.
enum class Scope {
  kConfig,    // JSON, protobuf, flags and ToString()
  kJsonOnly,  // JSON and ToString() (the proto carries it elsewhere)
  kRuntime,   // ToString() only: a value the code sets, never a config's
};

struct FieldInfo {
  const char* name;       // snake_case; the JSON key and the proto field name
  const char* help = "";  // meaning, unit, range
  Scope scope = Scope::kConfig;
  const char* flag = nullptr;  // command-line flag ("--listen"), for options that have flags
  const char* env = nullptr;   // environment variable ("ASR_LISTEN"), likewise

  bool in_json() const { return scope != Scope::kRuntime; }
  bool in_proto() const { return scope == Scope::kConfig; }
};

inline FieldInfo JsonOnly(const char* name, const char* help) { return {name, help, Scope::kJsonOnly}; }
inline FieldInfo Runtime(const char* name, const char* help) { return {name, help, Scope::kRuntime}; }
// A field with a command-line flag and an environment variable.
inline FieldInfo Flag(const char* name, const char* flag, const char* env, const char* help) {
  return {name, help, Scope::kConfig, flag, env};
}

// An enum used as a field names its values in a table found by
// argument-dependent lookup:
//   absl::Span<const fields::EnumName<Decay>> EnumNames(Decay);
template <class E>
struct EnumName {
  E value;
  const char* name;
};

template <class E>
const char* NameOf(E value) {
  for (const EnumName<E>& n : EnumNames(E{})) {
    if (n.value == value) return n.name;
  }
  return "?";
}

template <class E>
bool ParseEnum(absl::string_view name, E* value) {
  for (const EnumName<E>& n : EnumNames(E{})) {
    if (name == n.name) {
      *value = n.value;
      return true;
    }
  }
  return false;
}

// "a|b|c": the names an enum field accepts.
template <class E>
std::string Choices() {
  std::vector<absl::string_view> names;
  for (const EnumName<E>& n : EnumNames(E{})) names.push_back(n.name);
  return absl::StrJoin(names, "|");
}

// A visitor that accepts anything (to probe for Fields()).
struct AnyVisitor {
  template <class T>
  void operator()(const FieldInfo&, T&) {}
};

// True for option structs (types with a static Fields(S&, V&)).
template <class T, class = void>
struct IsOptions : std::false_type {};
template <class T>
struct IsOptions<T, std::void_t<decltype(T::Fields(std::declval<T&>(), std::declval<AnyVisitor&>()))>>
    : std::true_type {};
template <class T>
inline constexpr bool kIsOptions = IsOptions<std::remove_const_t<T>>::value;

template <class T>
struct IsStdArray : std::false_type {};
template <class T, size_t N>
struct IsStdArray<std::array<T, N>> : std::true_type {};
template <class T>
struct IsStdVector : std::false_type {};
template <class T>
struct IsStdVector<std::vector<T>> : std::true_type {};

// Visits the fields of `options` (const or not) with `visitor`.
template <class T, class V>
void Visit(T& options, V& visitor) {
  std::remove_const_t<T>::Fields(options, visitor);
}

// A field's value as ToString() shows it.
template <class T>
std::string ValueString(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return NameOf(value);
  } else if constexpr (IsStdArray<T>::value || IsStdVector<T>::value) {
    return absl::StrCat("[", absl::StrJoin(value, ","), "]");
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? "1" : "0";
  } else {
    return absl::StrCat(value);
  }
}

// Writes "path.name=value" for every field, sections flattened, separated
// by `separator`.
class ToStringVisitor {
 public:
  ToStringVisitor(std::string prefix, absl::string_view separator)
      : prefix_(std::move(prefix)), sep_(separator) {}
  template <class T>
  void operator()(const FieldInfo& f, const T& value) {
    if constexpr (kIsOptions<T>) {
      ToStringVisitor inner(absl::StrCat(prefix_, f.name, "."), sep_);
      Visit(value, inner);
      Append(inner.out_);
    } else {
      Append(absl::StrCat(prefix_, f.name, "=", ValueString(value)));
    }
  }
  const std::string& str() const { return out_; }

 private:
  void Append(const std::string& s) {
    if (s.empty()) return;
    if (!out_.empty()) out_ += sep_;
    out_ += s;
  }
  std::string prefix_;
  std::string sep_;
  std::string out_;
};

// Every field of `options` as "name=value" (sections as "section.name"),
// joined by `separator`.
template <class T>
std::string ToString(const T& options, absl::string_view separator = " ") {
  ToStringVisitor v("", separator);
  Visit(options, v);
  return v.str();
}

}  // namespace asr::fields
