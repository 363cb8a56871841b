// One definition per field: the trainer's config structs (their Fields()
// lists) and asr.v1.TrainingConfig must name the same fields with matching
// types, in both directions, so that a field added, renamed or retyped on
// one side alone fails here (e.g. a uint64 seed against a uint32 proto
// field). Feature options are checked for both feature types, whose fields
// differ.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "asr/v1/training.pb.h"
#include "model/base/fields.h"
#include "model/training/training_config.h"

namespace asr::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// The proto C++ type a field of C++ type T must have, and whether repeated.
template <class T>
std::pair<FieldDescriptor::CppType, bool> ProtoTypeOf() {
  using F = FieldDescriptor;
  if constexpr (std::is_same_v<T, bool>) return {F::CPPTYPE_BOOL, false};
  if constexpr (std::is_same_v<T, int>) return {F::CPPTYPE_INT32, false};
  if constexpr (std::is_same_v<T, int64_t>) return {F::CPPTYPE_INT64, false};
  if constexpr (std::is_same_v<T, uint32_t>) return {F::CPPTYPE_UINT32, false};
  if constexpr (std::is_same_v<T, uint64_t>) return {F::CPPTYPE_UINT64, false};
  // A proto double holds every float exactly.
  if constexpr (std::is_floating_point_v<T>) return {F::CPPTYPE_DOUBLE, false};
  if constexpr (std::is_same_v<T, std::string> || std::is_enum_v<T>) return {F::CPPTYPE_STRING, false};
  if constexpr (fields::IsStdArray<T>::value || std::is_same_v<T, std::vector<double>>) {
    return {F::CPPTYPE_DOUBLE, true};
  }
  if constexpr (std::is_same_v<T, std::vector<std::string>>) return {F::CPPTYPE_STRING, true};
  return {F::CPPTYPE_MESSAGE, false};
}

// Visits a struct beside a message descriptor and records every mismatch.
class Drift {
 public:
  Drift(const Descriptor* d, std::string path, std::vector<std::string>* problems)
      : d_(d), path_(std::move(path)), problems_(problems) {}

  template <class T>
  void operator()(const fields::FieldInfo& info, T& value) {
    if (!info.in_proto()) return;
    const std::string path = path_ + info.name;
    seen_.insert(info.name);
    const FieldDescriptor* f = d_->FindFieldByName(info.name);
    if (f == nullptr) {
      problems_->push_back(path + ": in the C++ struct, missing from " + d_->full_name());
      return;
    }
    if constexpr (fields::kIsOptions<T>) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        problems_->push_back(path + ": a section in C++, " + f->type_name() + " in the proto");
        return;
      }
      Drift inner(f->message_type(), path + ".", problems_);
      if constexpr (std::is_same_v<T, FeatureOptions>) {
        for (FeatureType type : {FeatureType::kFbank, FeatureType::kMfcc}) {
          FeatureOptions o;
          o.type = type;
          fields::Visit(o, inner);
        }
      } else {
        fields::Visit(value, inner);
      }
      inner.CheckEveryProtoFieldSeen();
    } else {
      const auto [type, repeated] = ProtoTypeOf<T>();
      if (f->cpp_type() != type || f->is_repeated() != repeated) {
        problems_->push_back(path + ": C++ type does not match the proto's " +
                             std::string(f->is_repeated() ? "repeated " : "") + f->type_name());
      }
      if (!f->is_repeated() && !f->has_presence()) {
        problems_->push_back(path +
                             ": not `optional` in the proto, so an unset field cannot mean the default");
      }
    }
  }

  void CheckEveryProtoFieldSeen() {
    for (int i = 0; i < d_->field_count(); ++i) {
      if (!seen_.count(d_->field(i)->name())) {
        problems_->push_back(path_ + d_->field(i)->name() + ": in " + d_->full_name() +
                             ", missing from the C++ struct");
      }
    }
  }

 private:
  const Descriptor* d_;
  std::string path_;
  std::vector<std::string>* problems_;
  std::set<std::string> seen_;
};

TEST(ConfigFieldsTest, TrainingConfigStructsAndProtoListTheSameFieldsWithMatchingTypes) {
  std::vector<std::string> problems;
  Drift drift(asr::v1::TrainingConfig::descriptor(), "", &problems);
  TrainingConfig config;
  fields::Visit(config, drift);
  drift.CheckEveryProtoFieldSeen();
  EXPECT_TRUE(problems.empty()) << [&] {
    std::string all;
    for (const std::string& p : problems) all += p + "\n";
    return all;
  }();
}

}  // namespace
}  // namespace asr::server
