// Protobuf messages for option structs (model/base/fields.h), through
// protobuf's reflection: a field of the struct and the message field of the
// same name are one field. Scalars map to their proto twins (float to
// double), enums to strings, vectors and arrays to repeated fields,
// sections to sub-messages. Unset proto fields keep the struct's values, so
// a message that sets nothing means the defaults. tests/server/
// config_fields_test.cc checks that each struct and its message list the
// same fields with matching types, so a name here is always found there.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <set>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/base/fields.h"
#include "model/base/fields_json.h"

namespace asr::server {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Writes every proto field of the visited struct into a message.
class ProtoWriter {
 public:
  explicit ProtoWriter(Message* m) : m_(m), r_(m->GetReflection()) {}

  template <class T>
  void operator()(const fields::FieldInfo& info, const T& value) {
    if (!info.in_proto() || !status_.ok()) return;
    const FieldDescriptor* f = m_->GetDescriptor()->FindFieldByName(info.name);
    if (f == nullptr) {
      status_ = absl::InternalError(absl::StrCat(m_->GetTypeName(), " has no field ", info.name));
      return;
    }
    if constexpr (fields::kIsOptions<T>) {
      ProtoWriter inner(r_->MutableMessage(m_, f));
      fields::Visit(value, inner);
      status_ = inner.status();
    } else if constexpr (fields::IsStdArray<T>::value || fields::IsStdVector<T>::value) {
      r_->ClearField(m_, f);
      for (const auto& x : value) Add(f, x);
    } else {
      Set(f, value);
    }
  }
  const absl::Status& status() const { return status_; }

 private:
  template <class T>
  void Set(const FieldDescriptor* f, const T& v) {
    if constexpr (std::is_enum_v<T>) {
      r_->SetString(m_, f, fields::NameOf(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
      r_->SetString(m_, f, v);
    } else if constexpr (std::is_same_v<T, bool>) {
      r_->SetBool(m_, f, v);
    } else if constexpr (std::is_floating_point_v<T>) {
      r_->SetDouble(m_, f, v);
    } else if constexpr (std::is_same_v<T, int>) {
      r_->SetInt32(m_, f, v);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      r_->SetInt64(m_, f, v);
    } else if constexpr (std::is_same_v<T, uint32_t>) {
      r_->SetUInt32(m_, f, v);
    } else {
      static_assert(std::is_same_v<T, uint64_t>, "field type without a proto twin");
      r_->SetUInt64(m_, f, v);
    }
  }
  void Add(const FieldDescriptor* f, double v) { r_->AddDouble(m_, f, v); }
  void Add(const FieldDescriptor* f, const std::string& v) { r_->AddString(m_, f, v); }

  Message* m_;
  const Reflection* r_;
  absl::Status status_;
};

// Reads the set fields of a message into the visited struct. Errors name
// the field by its path ("model.features.window_type: ..."); a set field
// the struct does not visit (e.g. an MFCC option on fbank features) is
// "<path>: unknown field".
class ProtoReader {
 public:
  ProtoReader(const Message& m, std::string path) : m_(m), r_(m.GetReflection()), path_(std::move(path)) {}

  template <class T>
  void operator()(const fields::FieldInfo& info, T& value) {
    if (!info.in_proto() || !status_.ok()) return;
    const FieldDescriptor* f = m_.GetDescriptor()->FindFieldByName(info.name);
    if (f == nullptr) {
      status_ = absl::InternalError(absl::StrCat(m_.GetTypeName(), " has no field ", info.name));
      return;
    }
    visited_.insert(f);
    const std::string path = fields::Path(path_, info.name);
    if (f->is_repeated() ? r_->FieldSize(m_, f) == 0 : !r_->HasField(m_, f)) return;  // unset: keep
    if constexpr (fields::kIsOptions<T>) {
      ProtoReader inner(r_->GetMessage(m_, f), path);
      fields::Visit(value, inner);
      status_ = inner.Finish();
    } else if constexpr (fields::IsStdArray<T>::value) {
      if (static_cast<size_t>(r_->FieldSize(m_, f)) != value.size()) {
        status_ = absl::InvalidArgumentError(
            absl::StrCat(path, ": ", r_->FieldSize(m_, f), " values, want ", value.size()));
        return;
      }
      for (size_t i = 0; i < value.size(); ++i) value[i] = r_->GetRepeatedDouble(m_, f, static_cast<int>(i));
    } else if constexpr (fields::IsStdVector<T>::value) {
      value.clear();
      for (int i = 0; i < r_->FieldSize(m_, f); ++i) {
        if constexpr (std::is_same_v<typename T::value_type, std::string>) {
          value.push_back(r_->GetRepeatedString(m_, f, i));
        } else {
          value.push_back(r_->GetRepeatedDouble(m_, f, i));
        }
      }
    } else if constexpr (std::is_enum_v<T>) {
      const std::string name = r_->GetString(m_, f);
      if (!fields::ParseEnum(name, &value)) {
        status_ =
            absl::InvalidArgumentError(absl::StrCat(path, ": '", name, "' is not ", fields::Choices<T>()));
      }
    } else {
      Get(f, &value);
    }
  }
  // The first error, or a set field nothing visited.
  absl::Status Finish() const {
    if (!status_.ok()) return status_;
    std::vector<const FieldDescriptor*> set;
    r_->ListFields(m_, &set);
    for (const FieldDescriptor* f : set) {
      if (!visited_.count(f)) {
        return absl::InvalidArgumentError(
            absl::StrCat(fields::Path(path_, f->name().c_str()), ": unknown field"));
      }
    }
    return absl::OkStatus();
  }

 private:
  template <class T>
  void Get(const FieldDescriptor* f, T* v) {
    if constexpr (std::is_same_v<T, std::string>) {
      *v = r_->GetString(m_, f);
    } else if constexpr (std::is_same_v<T, bool>) {
      *v = r_->GetBool(m_, f);
    } else if constexpr (std::is_floating_point_v<T>) {
      *v = static_cast<T>(r_->GetDouble(m_, f));
    } else if constexpr (std::is_same_v<T, int>) {
      *v = r_->GetInt32(m_, f);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      *v = r_->GetInt64(m_, f);
    } else if constexpr (std::is_same_v<T, uint32_t>) {
      *v = r_->GetUInt32(m_, f);
    } else {
      static_assert(std::is_same_v<T, uint64_t>, "field type without a proto twin");
      *v = r_->GetUInt64(m_, f);
    }
  }

  const Message& m_;
  const Reflection* r_;
  std::string path_;
  std::set<const FieldDescriptor*> visited_;
  absl::Status status_;
};

// `options` into `message` (every field, defaults included).
template <class T>
absl::Status ToMessage(const T& options, Message* message) {
  ProtoWriter w(message);
  fields::Visit(options, w);
  return w.status();
}

// The fields `message` sets, into *options; errors name "path.field".
template <class T>
absl::Status FromMessage(const Message& message, const std::string& path, T* options) {
  ProtoReader r(message, path);
  fields::Visit(*options, r);
  return r.Finish();
}

}  // namespace asr::server
