// The fused CUDA LN-LSTM path (model/cuda/) against the reference
// composition of LibTorch ops on the same GPU. Built only against a CUDA
// LibTorch (ASR_CUDA_ADAPTER) and run by scripts/gpu-check.sh.
//
// Tolerances (AllCloseRelative: |a - b| <= rtol * (|b| + max|b|)):
//   fp32: 1e-4 for outputs, final states and every gradient;
//   bf16: 6e-2 and fp16: 1.5e-2 against the fp32 reference (8 and 11
//   mantissa bits; statistics and cell state stay fp32 in the kernels),
//   over at most 12 steps; measured on an H100 (worst error / max|ref|):
//   bf16 1.6e-2, 2.5e-2, 4.5e-2 and fp16 2.4e-3, 3.4e-3, 6.8e-3 after 1, 4
//   and 12 steps, the ~8x ratio of their roundings. A randomly initialized LN-LSTM is chaotic
//   (layer norm keeps the recurrent gain near one whatever the weights'
//   scale): over 50 steps and 3 layers its fp32 gradients reach 1e5 and
//   rounding differences grow until bf16 and fp32 trajectories part, so a
//   longer comparison would test the network's conditioning, not the kernels.
#include "model/cuda/ln_lstm_cuda.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstdio>

#include "model/ln_lstm.h"
#include "tests/support/npy_tensor.h"
#include "tests/support/tolerance.h"

namespace asr {
namespace {

using testing::AllCloseRelative;

struct Result {
  torch::Tensor y, h, c;
  std::vector<torch::Tensor> grads;  // x, h0, c0, then every parameter
};

// Forward + backward of a fixed random loss on `device` in `dtype`.
Result ForwardBackward(LayerNormLstm& lstm, const torch::Tensor& x_cpu, const torch::Tensor& lengths,
                       const LstmState& init_cpu, torch::ScalarType dtype) {
  const torch::Device dev = lstm->parameters()[0].device();
  for (auto& p : lstm->parameters()) p.mutable_grad() = torch::Tensor();
  const torch::Tensor x = x_cpu.to(dev, dtype).requires_grad_(true);
  const torch::Tensor h0 = init_cpu.h.to(dev, dtype).requires_grad_(true);
  const torch::Tensor c0 = init_cpu.c.to(dev, dtype).requires_grad_(true);
  const LstmOutput out = lstm->forward(x, lengths, {h0, c0});
  torch::manual_seed(99);
  const torch::Tensor ry = torch::randn(out.output.sizes()).to(dev, dtype);
  const torch::Tensor rh = torch::randn(out.state.h.sizes()).to(dev, dtype);
  const torch::Tensor rc = torch::randn(out.state.c.sizes()).to(dev, dtype);
  ((out.output * ry).sum() + (out.state.h * rh).sum() + (out.state.c * rc).sum()).backward();
  auto fp32_cpu = [](const torch::Tensor& t) { return t.to(torch::kFloat32).cpu(); };
  Result r{fp32_cpu(out.output), fp32_cpu(out.state.h), fp32_cpu(out.state.c), {}};
  r.grads = {fp32_cpu(x.grad()), fp32_cpu(h0.grad()), fp32_cpu(c0.grad())};
  for (auto& p : lstm->parameters()) r.grads.push_back(fp32_cpu(p.grad()));
  return r;
}

void ExpectClose(const Result& a, const Result& b, double rtol, const std::string& what) {
  std::string why;
  EXPECT_TRUE(AllCloseRelative(a.y, b.y, rtol, &why)) << what << " y: " << why;
  EXPECT_TRUE(AllCloseRelative(a.h, b.h, rtol, &why)) << what << " h_T: " << why;
  EXPECT_TRUE(AllCloseRelative(a.c, b.c, rtol, &why)) << what << " c_T: " << why;
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    EXPECT_TRUE(AllCloseRelative(a.grads[i], b.grads[i], rtol, &why))
        << what << " grad #" << i << ": " << why;
  }
}

class LnLstmCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(torch::cuda::is_available()) << "built against a CUDA LibTorch but no GPU is visible";
    torch::manual_seed(3);
  }

  // A fused and a reference module with identical parameters on the GPU.
  static std::pair<LayerNormLstm, LayerNormLstm> Pair(int64_t in, int64_t hidden, int64_t layers, bool bi) {
    LayerNormLstm fused(LayerNormLstmOptions(in, hidden).num_layers(layers).bidirectional(bi).fused(true));
    LayerNormLstm ref(LayerNormLstmOptions(in, hidden).num_layers(layers).bidirectional(bi).fused(false));
    {
      torch::NoGradGuard no_grad;
      // Non-trivial gains and shifts so every LN parameter's gradient path matters.
      for (auto& p : fused->parameters()) p.add_(torch::randn(p.sizes()) * 0.1);
      auto src = fused->parameters(), dst = ref->parameters();
      for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
    }
    fused->to(torch::kCUDA);
    ref->to(torch::kCUDA);
    return {fused, ref};
  }
};

TEST_F(LnLstmCudaTest, Float32FusedEqualsReferenceRaggedUniAndBidirectional) {
  for (bool bi : {false, true}) {
    auto [fused, ref] = Pair(40, 64, 2, bi);
    const int64_t d = bi ? 2 : 1;
    const torch::Tensor x = torch::randn({37, 6, 40});
    const torch::Tensor lengths = torch::tensor({37, 30, 30, 12, 5, 1});
    const LstmState init{torch::randn({2 * d, 6, 64}), torch::randn({2 * d, 6, 64})};
    ExpectClose(ForwardBackward(fused, x, lengths, init, torch::kFloat32),
                ForwardBackward(ref, x, lengths, init, torch::kFloat32), 1e-4,
                bi ? "bidirectional" : "unidirectional");
  }
}

// max over outputs, states and gradients of max|a - b| / max|b|.
double WorstRelativeError(const Result& a, const Result& b) {
  auto rel = [](const torch::Tensor& x, const torch::Tensor& y) {
    return (x - y).abs().max().item<double>() / std::max(1e-30, y.abs().max().item<double>());
  };
  double worst = testing::Worse(testing::Worse(rel(a.y, b.y), rel(a.h, b.h)), rel(a.c, b.c));
  for (size_t i = 0; i < a.grads.size(); ++i) worst = testing::Worse(worst, rel(a.grads[i], b.grads[i]));
  return worst;
}

TEST_F(LnLstmCudaTest, ReducedPrecisionTracksFloat32Reference) {
  auto [fused, ref] = Pair(80, 128, 3, false);
  for (int64_t steps : {1, 4, 12}) {
    const torch::Tensor x = torch::randn({steps, 16, 80});
    const torch::Tensor lengths = (steps - torch::arange(16, torch::kInt64)).clamp_min(1);
    const LstmState init{torch::randn({3, 16, 128}), torch::randn({3, 16, 128})};
    const Result want = ForwardBackward(ref, x, lengths, init, torch::kFloat32);
    for (auto [dtype, rtol] : {std::pair{torch::kBFloat16, 6e-2}, std::pair{torch::kHalf, 1.5e-2}}) {
      LayerNormLstm low(LayerNormLstmOptions(80, 128).num_layers(3));
      {
        torch::NoGradGuard no_grad;
        auto src = ref->parameters(), dst = low->parameters();
        for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i].cpu());
      }
      low->to(torch::kCUDA);  // parameters stay fp32, activations in `dtype`
      const std::string what =
          std::string(dtype == torch::kBFloat16 ? "bf16" : "fp16") + ", " + std::to_string(steps) + " steps";
      const Result got = ForwardBackward(low, x, lengths, init, dtype);
      std::printf("%s: worst error / max|ref| %.2e\n", what.c_str(), WorstRelativeError(got, want));
      ExpectClose(got, want, rtol, what);
    }
  }
}

TEST_F(LnLstmCudaTest, GraphReplayWithNewLengthsEqualsDirectLaunches) {
  auto [fused, ref] = Pair(20, 32, 1, false);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({25, 4, 20}).cuda();
  // Same shape twice with different lengths: the second call replays the
  // graph captured by the first and must bind the new lengths.
  for (const auto& lengths : {torch::tensor({25, 20, 10, 3}), torch::tensor({25, 25, 2, 1})}) {
    SetLnLstmCudaGraphs(true);
    const LstmOutput graphed = fused->forward(x, lengths);
    SetLnLstmCudaGraphs(false);
    const LstmOutput direct = fused->forward(x, lengths);
    SetLnLstmCudaGraphs(true);
    EXPECT_TRUE(torch::equal(graphed.output, direct.output));
    EXPECT_TRUE(torch::equal(graphed.state.h, direct.state.h));
    const LstmOutput want = ref->forward(x, lengths);
    std::string why;
    EXPECT_TRUE(AllCloseRelative(graphed.output.cpu(), want.output.cpu(), 1e-4, &why)) << why;
  }
}

TEST_F(LnLstmCudaTest, StepEqualsFullSequence) {
  auto [fused, ref] = Pair(24, 48, 3, false);
  fused->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({20, 64, 24}).cuda();
  const LstmOutput full = fused->forward(x);
  LstmState s;
  for (int64_t t = 0; t < 20; ++t) {
    auto [y, next] = fused->Step(x[t], s);
    s = next;
    EXPECT_LT((y - full.output[t]).abs().max().item<double>(), 1e-5) << "t=" << t;
  }
  EXPECT_LT((s.h - full.state.h).abs().max().item<double>(), 1e-5);
  EXPECT_LT((s.c - full.state.c).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace asr
