#include "features/options_json.h"

#include "absl/strings/str_cat.h"
#include "model/base/fields_json.h"

namespace asr {

nlohmann::json FeatureOptionsToJson(const FeatureOptions& opts) { return fields::ToJson(opts); }

absl::StatusOr<FeatureOptions> FeatureOptionsFromJson(const nlohmann::json& j) {
  FeatureOptions o;
  if (absl::Status st = fields::FromJson(j, "features", &o); !st.ok()) return st;
  if (absl::Status st = o.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("features.", st.message()));
  }
  return o;
}

}  // namespace asr
