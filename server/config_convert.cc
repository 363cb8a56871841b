#include "server/config_convert.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace asr::server {

absl::StatusOr<TrainingConfig> FromProto(const asr::v1::TrainingConfig& proto) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(proto, &json, opts).ok()) {
    return absl::InternalError("config: cannot convert to JSON");
  }
  nlohmann::json j = nlohmann::json::parse(json);
  // Empty sub-messages carry no settings.
  for (auto it = j.begin(); it != j.end();) it = it->is_object() && it->empty() ? j.erase(it) : std::next(it);
  auto c = TrainingConfig::FromJson(j);
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat("config.", c.status().message()));
  return c;
}

absl::StatusOr<asr::v1::TrainingConfig> ToProto(const TrainingConfig& config) {
  nlohmann::json j = config.ToJson();
  j.erase("train_manifest");
  j.erase("dev_manifest");
  asr::v1::TrainingConfig proto;
  google::protobuf::util::JsonParseOptions opts;
  if (const auto st = google::protobuf::util::JsonStringToMessage(j.dump(), &proto, opts); !st.ok()) {
    return absl::InternalError(absl::StrCat("config: cannot convert from JSON: ", st.message().as_string()));
  }
  return proto;
}

}  // namespace asr::server
