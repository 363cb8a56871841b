// EstimateTrainingMemory: the parameter count it computes without building
// the model equals the real AcousticModel's, across the model options
// that change it; and its terms move with the fields they name.
#include "model/training/memory_estimate.h"

#include <gtest/gtest.h>

#include "model/acoustic_model.h"

namespace asr {
namespace {

int64_t RealParameterCount(const AcousticModelConfig& c) {
  AcousticModel m(c, Cmvn::Identity(c.features.Dim()));
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  return n;
}

TEST(MemoryEstimateTest, ParameterCountMatchesTheBuiltModel) {
  std::vector<AcousticModelConfig> configs(5);
  configs[1].hidden_size = 64;
  configs[1].num_layers = 1;
  configs[2].bidirectional = true;
  configs[2].num_layers = 2;
  configs[3].proj_size = 96;
  configs[4].word_units = {"zero", "one", "two"};
  configs[4].frame_stacking = 6;
  for (const AcousticModelConfig& c : configs) {
    auto n = ParameterCount(c);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, RealParameterCount(c)) << c.ToJson().dump();
  }
}

TEST(MemoryEstimateTest, TermsFollowTheirFields) {
  TrainingConfig c;
  auto base = EstimateTrainingMemory(c, 1, 1);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->replicas, 0);
  EXPECT_EQ(base->parameters, 4 * base->parameter_count);
  // Thread replicas hold weights and gradients each.
  EXPECT_EQ(EstimateTrainingMemory(c, 1, 3)->replicas, 2 * 2 * base->parameters);
  // Ranks split the batch, not the model.
  auto two = EstimateTrainingMemory(c, 2, 1);
  EXPECT_EQ(two->parameters, base->parameters);
  EXPECT_LT(two->activations, base->activations * 0.51);
  c.data.max_batch_frames *= 2;
  EXPECT_GT(EstimateTrainingMemory(c, 1, 1)->activations, base->activations * 1.9);
  // The model that took the server down before jobs ran in workers.
  c.model.hidden_size = 8192;
  c.model.num_layers = 16;
  auto huge = EstimateTrainingMemory(c, 1, 1);
  EXPECT_GT(huge->per_process(), int64_t{100} << 30);
  EXPECT_NE(huge->ToString().find("model.hidden_size"), std::string::npos);
  c.model.hidden_size = 0;
  EXPECT_EQ(EstimateTrainingMemory(c, 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace asr
