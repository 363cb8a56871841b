// JSON for option structs (fields.h): every config field written, and read
// back with errors that name the field by its path ("optimizer.lr: wrong
// type (\"x\")", "train.epoch: unknown field"). Missing fields keep their
// values. A section may also be given as a string naming a preset when its
// struct has static StatusOr<T> Preset(const std::string&).
#pragma once

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/base/fields.h"
#include "nlohmann/json.hpp"

namespace asr::fields {

template <class T, class = void>
struct HasPreset : std::false_type {};
template <class T>
struct HasPreset<T, std::void_t<decltype(T::Preset(std::string()))>> : std::true_type {};

// "section.name", or "name" at the top.
inline std::string Path(const std::string& prefix, const char* name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

class JsonWriter {
 public:
  template <class T>
  void operator()(const FieldInfo& f, const T& value) {
    if (!f.in_json()) return;
    if constexpr (kIsOptions<T>) {
      JsonWriter inner;
      Visit(value, inner);
      out[f.name] = std::move(inner.out);
    } else if constexpr (std::is_enum_v<T>) {
      out[f.name] = NameOf(value);
    } else {
      out[f.name] = value;
    }
  }
  nlohmann::json out = nlohmann::json::object();
};

template <class T>
nlohmann::json ToJson(const T& options) {
  JsonWriter w;
  Visit(options, w);
  return w.out;
}

template <class T>
absl::Status FromJson(const nlohmann::json& j, const std::string& path, T* options);

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  template <class T>
  void operator()(const FieldInfo& f, T& value) {
    if (!f.in_json() || !status_.ok()) return;
    known_.insert(f.name);
    const auto it = j_.find(f.name);
    if (it == j_.end()) return;
    status_ = Read(*it, Path(path_, f.name), &value);
  }
  // OK, or the first error; unknown keys count once every field was visited.
  absl::Status Finish() const {
    if (!status_.ok()) return status_;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!known_.count(it.key()))
        return absl::InvalidArgumentError(Path(path_, it.key().c_str()) + ": unknown field");
    }
    return absl::OkStatus();
  }

 private:
  template <class T>
  static absl::Status Read(const nlohmann::json& v, const std::string& path, T* value) {
    if constexpr (kIsOptions<T>) {
      if constexpr (HasPreset<T>::value) {
        if (v.is_string()) {
          auto p = T::Preset(v.get<std::string>());
          if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", p.status().message()));
          *value = *p;
          return absl::OkStatus();
        }
      }
      return FromJson(v, path, value);
    } else if constexpr (std::is_enum_v<T>) {
      if (!v.is_string() || !ParseEnum(v.get<std::string>(), value)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": ", v.dump(), " is not ", Choices<T>()));
      }
      return absl::OkStatus();
    } else if constexpr (IsStdArray<T>::value) {
      if (!v.is_array() || v.size() != value->size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": wrong type (", v.dump(), "), want ", value->size(), " numbers"));
      }
      return ReadPlain(v, path, value);
    } else {
      return ReadPlain(v, path, value);
    }
  }
  template <class T>
  static absl::Status ReadPlain(const nlohmann::json& v, const std::string& path, T* value) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // A whole number that fits: 3.0 is 3, while 3.5 and 2^40 for an int are errors, not truncated.
      const bool whole = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                                   std::floor(v.get<double>()) == v.get<double>());
      if (!whole)
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": wrong type (", v.dump(), "), want an integer"));
      const long double x = v.is_number_unsigned()  ? static_cast<long double>(v.get<uint64_t>())
                            : v.is_number_integer() ? static_cast<long double>(v.get<int64_t>())
                                                    : static_cast<long double>(v.get<double>());
      if (x < static_cast<long double>(std::numeric_limits<T>::min()) ||
          x > static_cast<long double>(std::numeric_limits<T>::max())) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": ", v.dump(), " is out of range"));
      }
      *value = static_cast<T>(x);
      return absl::OkStatus();
    }
    try {
      *value = v.get<T>();
    } catch (const nlohmann::json::exception&) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": wrong type (", v.dump(), ")"));
    }
    return absl::OkStatus();
  }

  const nlohmann::json& j_;
  std::string path_;
  std::set<std::string> known_;
  absl::Status status_;
};

// Reads the fields present in `j` (an object) into *options; errors name
// "path.field". Does not validate values (the struct's Validate() does).
template <class T>
absl::Status FromJson(const nlohmann::json& j, const std::string& path, T* options) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.empty() ? "config" : path, ": must be a JSON object"));
  }
  JsonReader r(j, path);
  Visit(*options, r);
  return r.Finish();
}

// Markdown table rows, one per JSON field of `options`:
// "| `path.name` | default as JSON | help |", sections flattened.
class ReferenceWriter {
 public:
  explicit ReferenceWriter(std::string prefix) : prefix_(std::move(prefix)) {}
  template <class T>
  void operator()(const FieldInfo& f, const T& value) {
    if (!f.in_json()) return;
    const std::string path = Path(prefix_, f.name);
    if constexpr (kIsOptions<T>) {
      ReferenceWriter inner(path);
      Visit(value, inner);
      rows += inner.rows;
    } else {
      std::string shown;
      if constexpr (std::is_same_v<T, float>) {
        shown = absl::StrCat(value);  // 0.97, not the double nearest the float
      } else {
        JsonWriter w;
        w(f, value);
        shown = w.out[f.name].dump();
      }
      rows += absl::StrCat("| `", path, "` | `", shown, "` | ", absl::StrReplaceAll(f.help, {{"|", "\\|"}}),
                           " |\n");
    }
  }
  std::string rows;

 private:
  std::string prefix_;
};

template <class T>
std::string ReferenceRows(const T& defaults, const std::string& prefix = "") {
  ReferenceWriter w(prefix);
  Visit(defaults, w);
  return w.rows;
}

}  // namespace asr::fields
