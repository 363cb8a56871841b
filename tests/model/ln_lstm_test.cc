// LayerNormLstm behaviour beyond the golden values: streaming steps equal
// the full sequence, layer norm is per example (batch composition does not
// matter), padding never leaks, initialization, options, no leaks.
#include "model/ln_lstm.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/init.h>

#include <fstream>

namespace asr {
namespace {

class LnLstmTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(7); }
};

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST_F(LnLstmTest, StepByStepEqualsFullSequence) {
  for (int64_t proj : {0, 6}) {
    for (bool fused : {true, false}) {
      LayerNormLstm lstm(LayerNormLstmOptions(5, 9).num_layers(3).proj_size(proj).fused(fused));
      lstm->eval();
      const torch::Tensor x = torch::randn({12, 4, 5});
      torch::NoGradGuard no_grad;
      const LstmOutput full = lstm->forward(x);
      LstmState s;
      for (int64_t t = 0; t < 12; ++t) {
        auto [y, next] = lstm->Step(x[t], s);
        s = next;
        EXPECT_LT(MaxDiff(y, full.output[t]), 1e-5) << "t=" << t << " proj=" << proj << " fused=" << fused;
      }
      EXPECT_LT(MaxDiff(s.h, full.state.h), 1e-5);
      EXPECT_LT(MaxDiff(s.c, full.state.c), 1e-5);
    }
  }
}

TEST_F(LnLstmTest, LayerNormIsPerExampleWhateverTheBatch) {
  for (bool bidirectional : {false, true}) {
    LayerNormLstm lstm(LayerNormLstmOptions(6, 8).num_layers(2).bidirectional(bidirectional));
    torch::NoGradGuard no_grad;
    const torch::Tensor alone = torch::randn({10, 1, 6});
    const LstmOutput ref = lstm->forward(alone, torch::tensor({10}));
    // The same sequence among others of other lengths, at various positions.
    for (int64_t pos : {0, 2, 4}) {
      torch::Tensor batch = torch::randn({15, 5, 6}) * 3;
      batch.narrow(0, 0, 10).select(1, pos).copy_(alone.select(1, 0));
      torch::Tensor lengths = torch::tensor({15, 3, 7, 12, 1});
      lengths[pos] = 10;
      const LstmOutput out = lstm->forward(batch, lengths);
      EXPECT_LT(MaxDiff(out.output.narrow(0, 0, 10).select(1, pos), ref.output.select(1, 0)), 1e-5) << pos;
      EXPECT_LT(MaxDiff(out.state.h.select(1, pos), ref.state.h.select(1, 0)), 1e-5) << pos;
      EXPECT_EQ(out.output.narrow(0, 10, 5).select(1, pos).abs().max().item<float>(), 0.f)
          << "padding output";
    }
  }
}

TEST_F(LnLstmTest, PaddingValuesNeverChangeResultsOrGradients) {
  LayerNormLstm lstm(LayerNormLstmOptions(4, 7).num_layers(2).bidirectional(true));
  torch::Tensor x = torch::randn({9, 3, 4});
  const torch::Tensor lengths = torch::tensor({9, 5, 2});
  torch::Tensor noisy = x.clone();
  noisy.narrow(0, 5, 4).select(1, 1).fill_(1e4);  // garbage in the padding of row 1
  noisy.narrow(0, 2, 7).select(1, 2).fill_(-3e3);
  const torch::Tensor a_in = x.clone().requires_grad_(true), b_in = noisy.clone().requires_grad_(true);
  const LstmOutput a = lstm->forward(a_in, lengths), b = lstm->forward(b_in, lengths);
  EXPECT_EQ(MaxDiff(a.output, b.output), 0.0);
  EXPECT_EQ(MaxDiff(a.state.h, b.state.h), 0.0);
  (a.output.sum() + a.state.c.sum()).backward();
  (b.output.sum() + b.state.c.sum()).backward();
  EXPECT_EQ(MaxDiff(a_in.grad(), b_in.grad()), 0.0);
  EXPECT_EQ(b_in.grad().narrow(0, 5, 4).select(1, 1).abs().max().item<float>(), 0.f);
}

TEST_F(LnLstmTest, FusedAndReferencePathsAgreeOnRandomRaggedBatches) {
  for (int trial = 0; trial < 3; ++trial) {
    LayerNormLstmOptions o =
        LayerNormLstmOptions(3 + trial, 5 + trial).num_layers(2).bidirectional(trial != 1);
    LayerNormLstm fused(o), ref(LayerNormLstmOptions(o).fused(false));
    {
      torch::NoGradGuard g;
      for (auto& p : fused->named_parameters()) {
        p.value().uniform_(-1, 1);
        ref->named_parameters()[p.key()].copy_(p.value());
      }
    }
    const torch::Tensor x = torch::randn({8, 4, 3 + trial});
    const torch::Tensor lengths = torch::randint(0, 9, {4}, torch::kInt64);
    const LstmOutput a = fused->forward(x, lengths), b = ref->forward(x, lengths);
    EXPECT_LT(MaxDiff(a.output, b.output), 1e-5);
    a.output.pow(2).sum().backward();
    b.output.pow(2).sum().backward();
    for (auto& p : fused->named_parameters()) {
      EXPECT_LT(MaxDiff(p.value().grad(), ref->named_parameters()[p.key()].grad()), 1e-4) << p.key();
    }
  }
}

TEST_F(LnLstmTest, InitializationFollowsThePaper) {
  LayerNormLstm lstm(LayerNormLstmOptions(40, 16).num_layers(2).proj_size(8));
  const LstmCellWeights& w = lstm->cell(1, 0);
  EXPECT_TRUE(w.g_x.eq(1).all().item<bool>());
  EXPECT_TRUE(w.g_h.eq(1).all().item<bool>());
  EXPECT_TRUE(w.g_c.eq(1).all().item<bool>());
  EXPECT_TRUE(w.b_c.eq(0).all().item<bool>());
  EXPECT_TRUE(w.bias.narrow(0, 16, 16).eq(1).all().item<bool>()) << "forget gate bias 1";
  EXPECT_TRUE(w.bias.narrow(0, 0, 16).eq(0).all().item<bool>());
  EXPECT_TRUE(w.bias.narrow(0, 32, 32).eq(0).all().item<bool>());
  for (int64_t g = 0; g < 4; ++g) {
    const torch::Tensor block = w.w_h.narrow(0, g * 16, 16);  // [16, 8]: orthonormal columns
    EXPECT_LT(MaxDiff(block.t().mm(block), torch::eye(8)), 1e-5) << "gate " << g;
    const double bound =
        std::sqrt(6.0 / (16 + 8));  // Xavier for a [16, 8] gate block (layer 1 input = proj 8)
    EXPECT_LE(w.w_x.narrow(0, g * 16, 16).abs().max().item<double>(), bound + 1e-6);
    EXPECT_GT(w.w_x.narrow(0, g * 16, 16).abs().max().item<double>(), 0.8 * bound);
  }
}

TEST_F(LnLstmTest, OptionsValidateAndPrintEveryField) {
  EXPECT_NE(LayerNormLstmOptions(0, 4).Validate().message().find("input_size"), std::string::npos);
  EXPECT_NE(LayerNormLstmOptions(4, 4).proj_size(4).Validate().message().find("proj_size"),
            std::string::npos);
  EXPECT_NE(LayerNormLstmOptions(4, 4).dropout(1.5).Validate().message().find("dropout"), std::string::npos);
  EXPECT_NE(LayerNormLstmOptions(4, 4).eps(0).Validate().message().find("eps"), std::string::npos);
  const std::string s =
      LayerNormLstmOptions(3, 4).num_layers(2).bidirectional(true).dropout(0.25).proj_size(2).ToString();
  for (const char* f : {"input_size=3", "hidden_size=4", "num_layers=2", "bidirectional=1", "dropout=0.25",
                        "proj_size=2", "eps=1e-05", "fused=1"}) {
    EXPECT_NE(s.find(f), std::string::npos) << f << " in " << s;
  }
  EXPECT_THROW(LayerNormLstm(LayerNormLstmOptions(4, 4).num_layers(0)), c10::Error);
}

TEST_F(LnLstmTest, DropoutOnlyBetweenLayersAndOnlyInTraining) {
  LayerNormLstm lstm(LayerNormLstmOptions(4, 6).num_layers(2).dropout(0.5));
  const torch::Tensor x = torch::randn({5, 2, 4});
  lstm->eval();
  const torch::Tensor a = lstm->forward(x).output, b = lstm->forward(x).output;
  EXPECT_EQ(MaxDiff(a, b), 0.0);
  lstm->train();
  EXPECT_GT(MaxDiff(lstm->forward(x).output, lstm->forward(x).output), 0.0);
}

// A row's dropout masks come from its own seed: the same whatever rows
// share its batch and however long the batch is padded.
TEST_F(LnLstmTest, SeededDropoutMasksArePerRow) {
  LayerNormLstm lstm(LayerNormLstmOptions(4, 6).num_layers(3).dropout(0.5));
  lstm->train();
  const torch::Tensor x = torch::randn({7, 2, 4});
  lstm->SeedDropout({11, 22});
  const torch::Tensor both = lstm->forward(x, torch::tensor({7, 4})).output;
  lstm->SeedDropout({22});
  const torch::Tensor alone = lstm->forward(x.narrow(0, 0, 4).narrow(1, 1, 1), torch::tensor({4})).output;
  EXPECT_LT(MaxDiff(both.narrow(0, 0, 4).narrow(1, 1, 1), alone), 1e-6);
  lstm->SeedDropout({33});
  const torch::Tensor other = lstm->forward(x.narrow(0, 0, 4).narrow(1, 1, 1), torch::tensor({4})).output;
  EXPECT_GT(MaxDiff(other, alone), 1e-3) << "another seed, other masks";
  lstm->SeedDropout({11});
  EXPECT_THROW(lstm->forward(x), c10::Error) << "one seed for two rows";
}

int64_t ResidentKiB() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

TEST_F(LnLstmTest, TrainingStepsDoNotLeakMemory) {
  LayerNormLstm lstm(LayerNormLstmOptions(40, 128).num_layers(2));
  const torch::Tensor x = torch::randn({50, 16, 40});
  for (int i = 0; i < 5; ++i) lstm->forward(x).output.sum().backward();  // warm up
  const int64_t before = ResidentKiB();
  for (int i = 0; i < 40; ++i) lstm->forward(x).output.sum().backward();
  // Each step allocates ~20 MB of saved activations; a leak would add GBs.
  EXPECT_LT(ResidentKiB() - before, 64 * 1024) << "RSS grew over 40 training steps";
}

TEST_F(LnLstmTest, MatchesCpuOnGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  LayerNormLstm cpu(LayerNormLstmOptions(5, 8).num_layers(2).bidirectional(true));
  LayerNormLstm gpu(LayerNormLstmOptions(5, 8).num_layers(2).bidirectional(true));
  {
    torch::NoGradGuard g;
    for (auto& p : cpu->named_parameters()) gpu->named_parameters()[p.key()].copy_(p.value());
  }
  gpu->to(torch::kCUDA);
  const torch::Tensor x = torch::randn({7, 3, 5});
  const torch::Tensor lengths = torch::tensor({7, 4, 2});
  const LstmOutput a = cpu->forward(x, lengths), b = gpu->forward(x.cuda(), lengths);
  EXPECT_LT(MaxDiff(a.output, b.output.cpu()), 1e-4);
}

}  // namespace
}  // namespace asr
