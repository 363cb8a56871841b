#include "server/config_convert.h"

#include "absl/strings/str_cat.h"
#include "server/fields_proto.h"

namespace asr::server {

absl::StatusOr<TrainingConfig> FromProto(const asr::v1::TrainingConfig& proto) {
  TrainingConfig c;
  absl::Status st = FromMessage(proto, "", &c);
  if (st.ok()) st = c.Validate();
  if (!st.ok()) return absl::Status(st.code(), absl::StrCat("config.", st.message()));
  return c;
}

absl::StatusOr<asr::v1::TrainingConfig> ToProto(const TrainingConfig& config) {
  asr::v1::TrainingConfig proto;
  if (absl::Status st = ToMessage(config, &proto); !st.ok()) return st;
  return proto;
}

}  // namespace asr::server
