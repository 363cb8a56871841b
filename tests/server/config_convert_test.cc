// Every field of the trainer's JSON config has a twin in asr.v1.TrainingConfig:
// the effective config a job reports (ToProto) converts back (FromProto) to the
// same config, for defaults and for non-default values.
#include "server/config_convert.h"

#include <gtest/gtest.h>

namespace asr::server {
namespace {

nlohmann::json WithoutManifests(nlohmann::json j) {
  j.erase("train_manifest");
  j.erase("dev_manifest");
  return j;
}

void ExpectRoundTrip(const TrainingConfig& config) {
  const auto proto = ToProto(config);
  ASSERT_TRUE(proto.ok()) << proto.status();
  const auto back = FromProto(*proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(WithoutManifests(back->ToJson()).dump(2), WithoutManifests(config.ToJson()).dump(2));
}

TEST(ConfigConvertTest, DefaultsRoundTrip) { ExpectRoundTrip(TrainingConfig{}); }

TEST(ConfigConvertTest, NonDefaultValuesRoundTrip) {
  nlohmann::json j = TrainingConfig{}.ToJson();
  j["model"]["features"]["dither"] = 1.0;
  j["model"]["features"]["dither_seed"] = 9;
  j["model"]["features"]["window_type"] = "hamming";
  j["model"]["hidden_size"] = 64;
  j["model"]["lexicon"] = {"one", "two"};
  j["model"]["word_units"] = {"one", "two", "oh"};
  j["model"]["frame_stacking"] = 6;
  j["model"]["online_cmn"] = {{"window", 600}, {"prior_frames", 150}};
  j["train"]["max_steps"] = 77;
  j["train"]["ema_decay"] = 0.999;
  j["train"]["confidence_penalty"] = 0.1;
  j["train"]["intermediate_ctc_weight"] = 0.3;
  j["train"]["intermediate_ctc_layer"] = 2;
  j["train"]["export_model"] = "last";
  j["data"]["vtlp_max_warp"] = 0.1;
  j["data"]["noise_augment"] = {{"noise_probability", 0.5},
                                {"snr_db", {5, 25}},
                                {"reverb_probability", 0.25},
                                {"t60_seconds", {0.3, 0.9}},
                                {"drr_db", {1, 11}}};
  const auto config = TrainingConfig::FromJson(j);
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectRoundTrip(*config);
}

TEST(ConfigConvertTest, InvalidValueNamesTheField) {
  asr::v1::TrainingConfig proto;
  proto.mutable_model()->set_hidden_size(-3);
  const auto c = FromProto(proto);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(c.status().message()).find("config.model.hidden_size"), std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace asr::server
