// Data-parallel training step: the shards' weighted gradients equal the
// whole batch's (uneven shards included, with dropout too), and dropout
// masks depend on the seed, step and utterance only.
#include "model/training/data_parallel.h"

#include <gtest/gtest.h>

#include "model/ctc.h"
#include "tests/support/tolerance.h"

namespace asr {
namespace {

AcousticModelConfig SmallConfig(double dropout, int num_layers = 3) {
  AcousticModelConfig c;
  c.features.fbank.mel_opts.num_bins = 20;
  c.hidden_size = 24;
  c.num_layers = num_layers;
  c.frame_stacking = 3;
  c.dropout = dropout;
  return c;
}

// Five utterances of different lengths, random features and labels.
Batch SomeBatch() {
  torch::manual_seed(7);
  Batch b;
  const std::vector<int64_t> lengths = {40, 37, 33, 30, 21}, label_lengths = {6, 5, 4, 3, 2};
  b.feats = torch::randn({5, 40, 20});
  b.feat_lengths = torch::tensor(lengths);
  b.targets = torch::randint(1, 28, {5, 6}, torch::kInt64);
  b.target_lengths = torch::tensor(label_lengths);
  b.utterances = {0, 1, 2, 3, 4};
  b.frames = 161;
  return b;
}

struct Models {
  AcousticModel main{nullptr};
  std::vector<AcousticModel> replicas;
};

// A model and `replicas` copies with its parameters.
Models MakeModels(double dropout, int replicas, uint64_t init_seed = 3) {
  torch::manual_seed(init_seed);
  Models m;
  m.main = AcousticModel(SmallConfig(dropout), Cmvn::Identity(20));
  for (int k = 0; k < replicas; ++k)
    m.replicas.push_back(AcousticModel(SmallConfig(dropout), Cmvn::Identity(20)));
  CopyParameters(m.main, m.replicas);
  m.main->train();
  for (AcousticModel& r : m.replicas) r->train();
  return m;
}

std::vector<torch::Tensor> Grads(AcousticModel& m) {
  std::vector<torch::Tensor> g;
  for (const torch::Tensor& p : m->parameters()) g.push_back(p.grad().clone());
  return g;
}

void ExpectShardsSumToTheWholeBatch(double dropout);

// With dropout too: each row's masks are keyed by its utterance, not its shard.
TEST(DataParallelTest, ShardGradientsSumToTheWholeBatchGradient) {
  for (double dropout : {0.0, 0.3}) {
    SCOPED_TRACE(::testing::Message() << "dropout " << dropout);
    ExpectShardsSumToTheWholeBatch(dropout);
  }
}

void ExpectShardsSumToTheWholeBatch(double dropout) {
  const Batch batch = SomeBatch();
  Models whole = MakeModels(dropout, 0);
  const double whole_loss = ForwardBackward(whole.main, whole.replicas, batch, 2, 1, 0);
  const std::vector<torch::Tensor> expected = Grads(whole.main);
  for (int replicas : {1, 2, 4}) {  // shards of 3+2, 1+2+2 and 1 row each
    Models dp = MakeModels(dropout, replicas);
    const double loss = ForwardBackward(dp.main, dp.replicas, batch, 2, 1, 0);
    EXPECT_NEAR(loss, whole_loss, 1e-5 * std::abs(whole_loss)) << replicas << " replicas";
    const std::vector<torch::Tensor> got = Grads(dp.main);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const double err = (got[i] - expected[i]).abs().max().item<double>();
      const double scale = expected[i].abs().max().item<double>();
      EXPECT_LE(err, 1e-4 * scale + 1e-7)
          << replicas << " replicas, parameter " << i << ": " << err << " of " << scale;
    }
  }
}

TEST(DataParallelTest, StaleReplicaParametersShowInTheGradient) {
  // Guards the test above: a replica that missed CopyParameters differs.
  const Batch batch = SomeBatch();
  Models whole = MakeModels(0.0, 0);
  (void)ForwardBackward(whole.main, whole.replicas, batch, 2, 1, 0);
  Models dp = MakeModels(0.0, 1);
  {
    torch::NoGradGuard no_grad;
    torch::Tensor p = dp.replicas[0]->parameters()[0];
    p.add_(torch::randn_like(p) * 0.1);  // random: a constant shift of W_x would vanish in the LN
  }
  (void)ForwardBackward(dp.main, dp.replicas, batch, 2, 1, 0);
  double diff = 0;
  const std::vector<torch::Tensor> a = Grads(whole.main), b = Grads(dp.main);
  for (size_t i = 0; i < a.size(); ++i) diff = testing::Worse(diff, (a[i] - b[i]).abs().max().item<double>());
  EXPECT_GT(diff, 1e-4);
}

TEST(DataParallelTest, DropoutMasksDependOnSeedAndStepOnly) {
  const Batch batch = SomeBatch();
  auto grads = [&](uint64_t seed, int64_t step, uint64_t global_seed) {
    Models dp = MakeModels(0.3, 1);
    torch::manual_seed(global_seed);  // LibTorch's default generator must not matter
    (void)ForwardBackward(dp.main, dp.replicas, batch, 2, seed, step);
    return Grads(dp.main);
  };
  auto same = [](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!torch::equal(a[i], b[i])) return false;
    }
    return true;
  };
  const auto base = grads(1, 5, 100);
  EXPECT_TRUE(same(base, grads(1, 5, 200)));
  EXPECT_FALSE(same(base, grads(1, 6, 100)));
  EXPECT_FALSE(same(base, grads(2, 5, 100)));
}

// With a confidence penalty β the step's gradient is that of CTC − β·H, H
// each utterance's summed frame entropy over its valid frames divided by its
// target length, mean over the batch — recomputed here frame by frame; the
// returned loss stays the CTC loss.
TEST(DataParallelTest, ConfidencePenaltySubtractsTheFrameEntropy) {
  const Batch batch = SomeBatch();
  const double beta = 0.4;
  Models plain = MakeModels(0.0, 1);
  const double plain_loss = ForwardBackward(plain.main, plain.replicas, batch, 2, 1, 0);
  Models dp = MakeModels(0.0, 1);
  TrainingLoss penalty;
  penalty.confidence_penalty = beta;
  const double loss = ForwardBackward(dp.main, dp.replicas, batch, 2, 1, 0, penalty);
  EXPECT_NEAR(loss, plain_loss, 1e-6 * std::abs(plain_loss));

  Models ref = MakeModels(0.0, 0);
  ref.main->zero_grad();
  const AcousticOutput out = ref.main->forward(batch.feats, batch.feat_lengths, 2);
  torch::Tensor entropy = torch::zeros({});
  for (int64_t b = 0; b < batch.size(); ++b) {
    torch::Tensor h = torch::zeros({});
    for (int64_t t = 0; t < out.lengths[b].item<int64_t>(); ++t) {
      const torch::Tensor lp = out.log_probs[t][b];
      h = h - (lp.exp() * lp).sum();
    }
    entropy = entropy + h / batch.target_lengths[b].item<double>();
  }
  entropy = entropy / static_cast<double>(batch.size());
  EXPECT_GT(entropy.item<double>(), 0.1);
  (CtcLoss(out.log_probs, batch.targets, out.lengths, batch.target_lengths) - beta * entropy).backward();

  const std::vector<torch::Tensor> got = Grads(dp.main), want = Grads(ref.main), without = Grads(plain.main);
  double penalty_effect = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = (got[i] - want[i]).abs().max().item<double>();
    const double scale = want[i].abs().max().item<double>();
    EXPECT_LE(err, 1e-4 * scale + 1e-7) << "parameter " << i << ": " << err << " of " << scale;
    penalty_effect =
        testing::Worse(penalty_effect, (got[i] - without[i]).abs().max().item<double>() / (scale + 1e-12));
  }
  EXPECT_GT(penalty_effect, 1e-2);  // the penalty changes the gradient
}

// With intermediate CTC at layer 2 of 3 and weight w the step's gradient is
// that of (1 − w) · CTC(model) + w · CTC(a 2-layer model sharing the first
// two layers and the output layer) — the reference runs that truncated
// model, so it does not use the code path under test; the returned loss
// stays the full model's CTC loss.
TEST(DataParallelTest, IntermediateCtcAddsTheTruncatedModelsLoss) {
  const Batch batch = SomeBatch();
  const double w = 0.3;
  TrainingLoss terms;
  terms.intermediate_ctc_weight = w;
  terms.intermediate_ctc_layer = 2;
  Models plain = MakeModels(0.0, 1);
  const double plain_loss = ForwardBackward(plain.main, plain.replicas, batch, 2, 1, 0);
  Models dp = MakeModels(0.0, 1);
  const double loss = ForwardBackward(dp.main, dp.replicas, batch, 2, 1, 0, terms);
  EXPECT_NEAR(loss, plain_loss, 1e-6 * std::abs(plain_loss));

  Models full = MakeModels(0.0, 0);
  AcousticModel trunk(SmallConfig(0.0, 2), Cmvn::Identity(20));
  trunk->train();
  {
    torch::NoGradGuard no_grad;
    const auto from = full.main->named_parameters();
    for (auto& p : trunk->named_parameters()) p.value().copy_(from[p.key()]);
  }
  full.main->zero_grad();
  trunk->zero_grad();
  const AcousticOutput a = full.main->forward(batch.feats, batch.feat_lengths, 2);
  const AcousticOutput b = trunk->forward(batch.feats, batch.feat_lengths, 2);
  ((1 - w) * CtcLoss(a.log_probs, batch.targets, a.lengths, batch.target_lengths) +
   w * CtcLoss(b.log_probs, batch.targets, b.lengths, batch.target_lengths))
      .backward();

  const auto got = dp.main->named_parameters(), without = plain.main->named_parameters();
  const auto trunk_params = trunk->named_parameters();
  double intermediate_effect = 0;
  int shared = 0;
  for (const auto& p : full.main->named_parameters()) {
    torch::Tensor want = p.value().grad().clone();
    if (const torch::Tensor* t = trunk_params.find(p.key())) {
      want += t->grad();
      ++shared;
    }
    const double err = (got[p.key()].grad() - want).abs().max().item<double>();
    const double scale = want.abs().max().item<double>();
    EXPECT_LE(err, 1e-4 * scale + 1e-7) << p.key() << ": " << err << " of " << scale;
    intermediate_effect = testing::Worse(
        intermediate_effect,
        (got[p.key()].grad() - without[p.key()].grad()).abs().max().item<double>() / (scale + 1e-12));
  }
  EXPECT_EQ(shared, static_cast<int>(trunk_params.size()));
  EXPECT_GT(intermediate_effect, 1e-2);  // the intermediate loss changes the gradient
}

TEST(DataParallelTest, AShardsErrorReachesTheCaller) {
  Batch batch = SomeBatch();
  batch.feats = torch::randn({5, 40, 21});  // wrong feature dimension
  Models dp = MakeModels(0.0, 1);
  EXPECT_ANY_THROW(ForwardBackward(dp.main, dp.replicas, batch, 2, 1, 0));
}

}  // namespace
}  // namespace asr
