// LayerNormLstm against an independent float64 PyTorch implementation.
// Reference data: /usr/bin/python3 tests/golden/make_lnlstm_golden.py
// Tolerance per tensor, elementwise: |a - b| <= rtol * (|b| + max|b|) with
// rtol 1e-6 in float64 and 1e-4 in float32; outputs, final states, and the
// gradients of every parameter, the input and the initial states. Both the
// fused CPU kernels and the reference op composition are checked.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "model/ln_lstm.h"
#include "nlohmann/json.hpp"
#include "tests/support/npy_tensor.h"

namespace asr {
namespace {

using testing::AllCloseRelative;
using testing::LoadNpyTensor;

const std::string kDir = std::string(ASR_SOURCE_DIR) + "/tests/golden/lnlstm/";

struct GoldenCase {
  std::string name;
  nlohmann::json cfg;
  torch::Tensor Load(const std::string& what) const { return LoadNpyTensor(kDir + name + "/" + what + ".npy"); }
};

std::vector<GoldenCase> Cases() {
  std::ifstream in(kDir + "cases.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  std::vector<GoldenCase> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back({it.key(), it.value()});
  return out;
}

void CheckCase(const GoldenCase& c, torch::ScalarType dtype, bool fused, double rtol) {
  SCOPED_TRACE(c.name + (dtype == torch::kFloat64 ? " float64" : " float32") + (fused ? " fused" : " reference"));
  LayerNormLstm lstm(LayerNormLstmOptions(c.cfg["input_size"], c.cfg["hidden_size"])
                         .num_layers(c.cfg["num_layers"])
                         .bidirectional(c.cfg["bidirectional"])
                         .proj_size(c.cfg["proj_size"])
                         .eps(c.cfg["eps"])
                         .fused(fused));
  lstm->to(dtype);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : lstm->named_parameters()) p.value().copy_(c.Load("param_" + p.key()));
  }
  ASSERT_EQ(lstm->named_parameters().size(), c.cfg["params"].size());
  const torch::Tensor x = c.Load("x").to(dtype).requires_grad_(true);
  const torch::Tensor h0 = c.Load("h0").to(dtype).requires_grad_(true);
  const torch::Tensor c0 = c.Load("c0").to(dtype).requires_grad_(true);
  const LstmOutput out = lstm->forward(x, c.Load("lengths"), {h0, c0});
  std::string why;
  EXPECT_TRUE(AllCloseRelative(out.output, c.Load("y"), rtol, &why)) << "y: " << why;
  EXPECT_TRUE(AllCloseRelative(out.state.h, c.Load("h_t"), rtol, &why)) << "h_t: " << why;
  EXPECT_TRUE(AllCloseRelative(out.state.c, c.Load("c_t"), rtol, &why)) << "c_t: " << why;
  const torch::Tensor loss = (out.output * c.Load("r_y").to(dtype)).sum() +
                             (out.state.h * c.Load("r_h").to(dtype)).sum() +
                             (out.state.c * c.Load("r_c").to(dtype)).sum();
  loss.backward();
  EXPECT_TRUE(AllCloseRelative(x.grad(), c.Load("grad_x"), rtol, &why)) << "grad x: " << why;
  EXPECT_TRUE(AllCloseRelative(h0.grad(), c.Load("grad_h0"), rtol, &why)) << "grad h0: " << why;
  EXPECT_TRUE(AllCloseRelative(c0.grad(), c.Load("grad_c0"), rtol, &why)) << "grad c0: " << why;
  for (const auto& p : lstm->named_parameters()) {
    EXPECT_TRUE(AllCloseRelative(p.value().grad(), c.Load("grad_" + p.key()), rtol, &why))
        << "grad " << p.key() << ": " << why;
  }
}

TEST(LnLstmGoldenTest, Float64MatchesWithin1e6) {
  for (const GoldenCase& c : Cases()) {
    CheckCase(c, torch::kFloat64, /*fused=*/true, 1e-6);
    CheckCase(c, torch::kFloat64, /*fused=*/false, 1e-6);
  }
}

TEST(LnLstmGoldenTest, Float32MatchesWithin1e4) {
  for (const GoldenCase& c : Cases()) {
    CheckCase(c, torch::kFloat32, /*fused=*/true, 1e-4);
    CheckCase(c, torch::kFloat32, /*fused=*/false, 1e-4);
  }
}

TEST(LnLstmGoldenTest, CoversTheRequiredConfigurations) {
  std::set<std::string> names;
  for (const GoldenCase& c : Cases()) names.insert(c.name);
  EXPECT_EQ(names, (std::set<std::string>{"uni2", "bi2", "bi2_proj"}));
}

}  // namespace
}  // namespace asr
