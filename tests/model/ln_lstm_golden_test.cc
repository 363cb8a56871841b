// LayerNormLstm against an independent float64 PyTorch implementation.
// Reference data: /usr/bin/python3 tests/golden/make_lnlstm_golden.py
// Tolerance per tensor, elementwise: |a - b| <= rtol * (|b| + max|b|) with
// rtol 1e-6 in float64 and 1e-4 in float32; outputs, final states, and the
// gradients of every parameter, the input and the initial states. Both the
// fused CPU kernels and the reference op composition are checked.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#ifdef ASR_CUDA_ADAPTER
#include <torch/cuda.h>
#endif

#include "model/ln_lstm.h"
#include "model/ln_lstm_rows.h"
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
  torch::Tensor Load(const std::string& what) const {
    return LoadNpyTensor(kDir + name + "/" + what + ".npy");
  }
};

std::vector<GoldenCase> Cases() {
  std::ifstream in(kDir + "cases.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  std::vector<GoldenCase> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back({it.key(), it.value()});
  return out;
}

void CheckCase(const GoldenCase& c, torch::ScalarType dtype, bool fused, double rtol,
               torch::Device device = torch::kCPU) {
  SCOPED_TRACE(c.name + (dtype == torch::kFloat64 ? " float64" : " float32") +
               (fused ? " fused" : " reference") + " on " + device.str());
  LayerNormLstm lstm(LayerNormLstmOptions(c.cfg["input_size"], c.cfg["hidden_size"])
                         .num_layers(c.cfg["num_layers"])
                         .bidirectional(c.cfg["bidirectional"])
                         .proj_size(c.cfg["proj_size"])
                         .eps(c.cfg["eps"])
                         .fused(fused));
  lstm->to(device, dtype);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : lstm->named_parameters()) p.value().copy_(c.Load("param_" + p.key()));
  }
  auto on = [&](const torch::Tensor& t) { return t.to(device, dtype); };
  ASSERT_EQ(lstm->named_parameters().size(), c.cfg["params"].size());
  const torch::Tensor x = on(c.Load("x")).requires_grad_(true);
  const torch::Tensor h0 = on(c.Load("h0")).requires_grad_(true);
  const torch::Tensor c0 = on(c.Load("c0")).requires_grad_(true);
  const LstmOutput out = lstm->forward(x, c.Load("lengths"), {h0, c0});
  std::string why;
  EXPECT_TRUE(AllCloseRelative(out.output.cpu(), c.Load("y"), rtol, &why)) << "y: " << why;
  EXPECT_TRUE(AllCloseRelative(out.state.h.cpu(), c.Load("h_t"), rtol, &why)) << "h_t: " << why;
  EXPECT_TRUE(AllCloseRelative(out.state.c.cpu(), c.Load("c_t"), rtol, &why)) << "c_t: " << why;
  const torch::Tensor loss = (out.output * on(c.Load("r_y"))).sum() +
                             (out.state.h * on(c.Load("r_h"))).sum() +
                             (out.state.c * on(c.Load("r_c"))).sum();
  loss.backward();
  EXPECT_TRUE(AllCloseRelative(x.grad().cpu(), c.Load("grad_x"), rtol, &why)) << "grad x: " << why;
  EXPECT_TRUE(AllCloseRelative(h0.grad().cpu(), c.Load("grad_h0"), rtol, &why)) << "grad h0: " << why;
  EXPECT_TRUE(AllCloseRelative(c0.grad().cpu(), c.Load("grad_c0"), rtol, &why)) << "grad c0: " << why;
  for (const auto& p : lstm->named_parameters()) {
    EXPECT_TRUE(AllCloseRelative(p.value().grad().cpu(), c.Load("grad_" + p.key()), rtol, &why))
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

#ifdef ASR_CUDA_ADAPTER
// The same golden data on the GPU: fused CUDA kernels (cases without a
// projection; LSTMP runs the reference ops there) and the reference ops.
TEST(LnLstmGoldenTest, Float32MatchesWithin1e4_CUDA) {
  ASSERT_TRUE(torch::cuda::is_available()) << "built against a CUDA LibTorch but no GPU is visible";
  for (const GoldenCase& c : Cases()) {
    CheckCase(c, torch::kFloat32, /*fused=*/true, 1e-4, torch::kCUDA);
    CheckCase(c, torch::kFloat32, /*fused=*/false, 1e-4, torch::kCUDA);
  }
}
#endif

// CTest runs this file once per instruction-set variant of the row kernels
// (ASR_ROW_KERNELS, see tests/CMakeLists.txt); the goldens above must then
// have run through that variant, not through a fallback.
TEST(LnLstmGoldenTest, RunsTheRequestedRowKernels) {
  const char* forced = std::getenv("ASR_ROW_KERNELS");
  if (forced == nullptr || forced[0] == '\0') GTEST_SKIP() << "no variant requested: the widest one ran";
  const RowKernels<float>* available[4];
  const int n = AvailableRowKernels(available, 4);
  bool supported = false;
  for (int i = 0; i < n; ++i) supported = supported || std::strcmp(available[i]->isa, forced) == 0;
  if (!supported) GTEST_SKIP() << "this CPU cannot run " << forced;
  EXPECT_STREQ(RowKernelsFor<float>().isa, forced);
  EXPECT_STREQ(RowKernelsFor<double>().isa, forced);
}

TEST(LnLstmGoldenTest, CoversTheRequiredConfigurations) {
  std::set<std::string> names;
  for (const GoldenCase& c : Cases()) names.insert(c.name);
  EXPECT_EQ(names, (std::set<std::string>{"uni2", "bi2", "bi2_proj"}));
}

}  // namespace
}  // namespace asr
