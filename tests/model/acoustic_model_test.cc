// AcousticModel: shapes and lengths, streaming = offline, serialization,
// config JSON, and CTC convergence on a synthetic task.
#include "model/acoustic_model.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include <fstream>
#include <random>

#include "model/base/sha256.h"
#include "model/bundle.h"
#include "model/ctc.h"
#include "model/model_io.h"
#include "tests/support/process.h"

namespace asr {
namespace {

AcousticModelConfig SmallConfig() {
  AcousticModelConfig c;
  c.features.fbank.mel_opts.num_bins = 20;
  c.hidden_size = 24;
  c.num_layers = 2;
  c.frame_stacking = 3;
  c.dropout = 0;
  return c;
}

Cmvn SomeCmvn(int dim) {
  CmvnStats stats(dim);
  Matrix m(50, dim);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = static_cast<float>(i % 17) - 3.f;
  (void)stats.Accumulate(m);
  return *Cmvn::FromStats(stats);
}

TEST(AcousticModelTest, OutputsLogProbsWithSubsampledLengths) {
  torch::manual_seed(0);
  AcousticModel model(SmallConfig(), SomeCmvn(20));
  const torch::Tensor feats = torch::randn({3, 31, 20});
  const AcousticOutput out = model->forward(feats, torch::tensor({31, 30, 7}));
  EXPECT_EQ(out.log_probs.sizes(), (std::vector<int64_t>{11, 3, 29}));
  EXPECT_TRUE(torch::equal(out.lengths, torch::tensor({11, 10, 3})));
  EXPECT_LT((out.log_probs.exp().sum(2) - 1).abs().max().item<float>(), 1e-5);
  EXPECT_NEAR(model->config().output_frame_seconds(), 0.03, 1e-12);
}

TEST(AcousticModelTest, StreamingStepsEqualOfflineForward) {
  torch::manual_seed(1);
  AcousticModel model(SmallConfig(), SomeCmvn(20));
  model->eval();
  const torch::Tensor feats = torch::randn({1, 20, 20});
  torch::NoGradGuard no_grad;
  const AcousticOutput off = model->forward(feats, torch::tensor({20}));
  const Cmvn& cmvn = model->cmvn();
  FrameStacker stacker(20, 3);
  LstmState state;
  std::vector<float> stacked;
  std::vector<torch::Tensor> outs;
  auto step = [&] {
    const torch::Tensor x = torch::tensor(stacked).unsqueeze(0);
    if (outs.empty()) model->BurnIn(x, &state);
    outs.push_back(model->StepLogProbs(x, &state));
  };
  for (int64_t t = 0; t < 20; ++t) {
    std::vector<float> frame(feats[0][t].data_ptr<float>(), feats[0][t].data_ptr<float>() + 20);
    cmvn.Apply(frame.data());
    if (stacker.Push(frame.data(), &stacked)) step();
  }
  if (stacker.Flush(&stacked)) step();
  ASSERT_EQ(static_cast<int64_t>(outs.size()), off.log_probs.size(0));
  for (size_t i = 0; i < outs.size(); ++i) {
    EXPECT_LT((outs[i][0] - off.log_probs[static_cast<int64_t>(i)][0]).abs().max().item<float>(), 1e-5) << i;
  }
}

// The batched online CMN (prefix sums over [B, T, F], rows of different
// lengths) equals the streaming OnlineCmn frame by frame, and differs from the
// global mean where the stream's own mean differs from it.
TEST(AcousticModelTest, BatchedOnlineCmnEqualsStreamingOnlineCmn) {
  AcousticModelConfig config = SmallConfig();
  config.online_cmn = {40, 15};
  AcousticModel model(config, SomeCmvn(20));
  torch::manual_seed(3);
  const torch::Tensor feats = torch::randn({2, 90, 20}) * 2 + torch::linspace(-4, 4, 20);
  const torch::Tensor batched = model->Normalize(feats);
  const Cmvn& global = model->cmvn();
  for (int64_t b = 0; b < 2; ++b) {
    OnlineCmn cmn(global, config.online_cmn);
    for (int64_t t = 0; t < 90; ++t) {
      const torch::Tensor row = feats[b][t].contiguous();
      std::vector<float> frame(row.data_ptr<float>(), row.data_ptr<float>() + 20);
      cmn.Apply(frame.data());
      const torch::Tensor want = torch::tensor(frame);
      ASSERT_LT((batched[b][t] - want).abs().max().item<float>(), 1e-5) << "b=" << b << " t=" << t;
    }
  }
  AcousticModelConfig global_config = SmallConfig();
  AcousticModel global_model(global_config, SomeCmvn(20));
  EXPECT_GT((global_model->Normalize(feats) - batched).abs().max().item<float>(), 0.5);
}

TEST(AcousticModelTest, SaveAndLoadGiveIdenticalOutputs) {
  torch::manual_seed(2);
  AcousticModel model(SmallConfig(), SomeCmvn(20));
  model->eval();
  const std::string path = testing::MakeTempDir() + "/m.asrmodel";
  ASSERT_TRUE(SaveModel(path, model, {{"note", "test"}}).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metadata["note"], "test");
  EXPECT_EQ(loaded->model->config().ToJson(), model->config().ToJson());
  const torch::Tensor feats = torch::randn({2, 15, 20});
  const torch::Tensor lengths = torch::tensor({15, 9});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->forward(feats, lengths).log_probs,
                           loaded->model->forward(feats, lengths).log_probs));
}

TEST(AcousticModelTest, CorruptOrTruncatedFilesAreRejectedByName) {
  AcousticModel model(SmallConfig(), SomeCmvn(20));
  const std::string dir = testing::MakeTempDir();
  ASSERT_TRUE(SaveModel(dir + "/m", model).ok());
  const std::string bytes = testing::ReadFileOrEmpty(dir + "/m");
  std::ofstream(dir + "/truncated", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  std::ofstream(dir + "/flipped", std::ios::binary) << flipped;
  for (const char* name : {"truncated", "flipped"}) {
    auto r = LoadModel(dir + "/" + name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << name;
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status();
  }
  EXPECT_EQ(LoadModel(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(AcousticModelTest, ConfigJsonRoundTripsAndNamesBadFields) {
  AcousticModelConfig c = SmallConfig();
  c.proj_size = 8;
  c.bidirectional = true;
  c.online_cmn = {600, 100};
  auto back = AcousticModelConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), c.ToJson());
  c.word_units = {"zero", "one", "oh"};
  back = AcousticModelConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->word_units, c.word_units);
  EXPECT_EQ(AcousticModel(c, Cmvn::Identity(c.features.Dim()))->vocabulary().size(), 4);
  c.word_units.clear();
  nlohmann::json j = c.ToJson();
  j["hiden_size"] = 3;
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("model.hiden_size"), std::string::npos);
  j = c.ToJson();
  j["frame_stacking"] = 9;
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("frame_stacking"), std::string::npos);
  j = c.ToJson();
  j["word_units"] = {"one", "One"};
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("model.word_units: 'One'"),
            std::string::npos);
  j["vocabulary"] = " abc";
  j["word_units"] = {"one", "two"};
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("either word_units or vocabulary"),
            std::string::npos);
  j = c.ToJson();
  j["features"]["num_mel_bins"] = "eighty";
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("num_mel_bins"), std::string::npos);
  j = c.ToJson();
  j["online_cmn"]["window"] = -1;
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("model.online_cmn.window"),
            std::string::npos);
  j = c.ToJson();
  j["online_cmn"]["prior"] = 5;
  EXPECT_NE(AcousticModelConfig::FromJson(j).status().message().find("model.online_cmn.prior"),
            std::string::npos);
}

// Synthetic task: each label a..d is a burst of 3-5 frames of its own
// noisy pattern, separated by 1-3 frames of "silence". The model must learn
// to transcribe unseen sequences.
struct Synthetic {
  torch::Tensor feats, lengths, targets, target_lengths;
  std::vector<std::string> texts;
};

Synthetic MakeBatch(int n, std::mt19937* rng) {
  const Vocabulary v;
  const int dim = 20;
  std::vector<torch::Tensor> seqs;
  Synthetic s;
  std::vector<int64_t> lens, tlens;
  int64_t max_t = 0;
  for (int i = 0; i < n; ++i) {
    std::string text;
    std::vector<torch::Tensor> frames;
    const int labels = 2 + static_cast<int>((*rng)() % 3);
    for (int l = 0; l < labels; ++l) {
      const int c = static_cast<int>((*rng)() % 4);
      text.push_back(static_cast<char>('a' + c));
      for (int k = 0, sil = 1 + static_cast<int>((*rng)() % 3); k < sil; ++k)
        frames.push_back(torch::randn({dim}) * 0.3);
      for (int k = 0, len = 3 + static_cast<int>((*rng)() % 3); k < len; ++k) {
        torch::Tensor f = torch::randn({dim}) * 0.3;
        f.narrow(0, c * 5, 5) += 2.0;
        frames.push_back(f);
      }
    }
    frames.push_back(torch::randn({dim}) * 0.3);
    seqs.push_back(torch::stack(frames));
    lens.push_back(static_cast<int64_t>(frames.size()));
    max_t = std::max(max_t, lens.back());
    s.texts.push_back(text);
    tlens.push_back(static_cast<int64_t>(text.size()));
  }
  s.feats = torch::zeros({n, max_t, dim});
  s.targets = torch::zeros({n, 4}, torch::kInt64);
  for (int i = 0; i < n; ++i) {
    s.feats[i].narrow(0, 0, lens[static_cast<size_t>(i)]).copy_(seqs[static_cast<size_t>(i)]);
    for (size_t k = 0; k < s.texts[static_cast<size_t>(i)].size(); ++k) {
      s.targets[i][static_cast<int64_t>(k)] = v.Id(s.texts[static_cast<size_t>(i)][k]);
    }
  }
  s.lengths = torch::tensor(lens);
  s.target_lengths = torch::tensor(tlens);
  return s;
}

TEST(AcousticModelTest, LearnsASyntheticSequenceTaskWithCtc) {
  torch::manual_seed(3);
  std::mt19937 rng(3);
  AcousticModelConfig c = SmallConfig();
  c.frame_stacking = 1;
  c.hidden_size = 48;
  c.num_layers = 1;
  AcousticModel model(c, Cmvn::Identity(20));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  const Synthetic test = MakeBatch(40, &rng);
  double loss_value = 0;
  for (int step = 0; step < 250; ++step) {  // step cap
    const Synthetic b = MakeBatch(16, &rng);
    const AcousticOutput out = model->forward(b.feats, b.lengths);
    const torch::Tensor loss = CtcLoss(out.log_probs, b.targets, out.lengths, b.target_lengths);
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_value = loss.item<double>();
  }
  EXPECT_LT(loss_value, 0.3);
  model->eval();
  torch::NoGradGuard no_grad;
  const AcousticOutput out = model->forward(test.feats, test.lengths);
  int correct = 0;
  for (int i = 0; i < 40; ++i) {
    const Transcript t = CtcDecode(out.log_probs.select(1, i).narrow(0, 0, out.lengths[i].item<int64_t>()),
                                   model->vocabulary(), {});
    correct += t.text == test.texts[static_cast<size_t>(i)];
  }
  EXPECT_GE(correct, 36) << "of 40 held-out sequences transcribed exactly";
}

TEST(BundleTest, RoundTripsAndDetectsEveryTruncation) {
  const std::string dir = testing::MakeTempDir();
  const Bundle b{"checkpoint", "{\"step\":3}", {{"model", std::string(1000, 'x')}, {"optimizer", "abc"}}};
  ASSERT_TRUE(WriteBundleAtomically(dir + "/b", b).ok());
  auto r = ReadBundle(dir + "/b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, "checkpoint");
  EXPECT_EQ(r->json, b.json);
  EXPECT_EQ(r->blobs, b.blobs);
  const std::string bytes = testing::ReadFileOrEmpty(dir + "/b");
  for (size_t cut : {size_t{0}, size_t{7}, size_t{40}, bytes.size() - 1}) {
    std::ofstream(dir + "/t", std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
    EXPECT_FALSE(ReadBundle(dir + "/t").ok()) << cut;
  }
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A flipped byte anywhere leaves every length intact: only the checksum can
// tell, and it must, in the kind, the metadata, a blob's name or bytes, or
// the checksum itself.
TEST(BundleTest, DetectsAFlippedByteAnywhere) {
  const std::string dir = testing::MakeTempDir();
  const Bundle b{"checkpoint", "{\"step\":3}", {{"model", std::string(1000, 'x')}, {"optimizer", "abc"}}};
  ASSERT_TRUE(WriteBundleAtomically(dir + "/b", b).ok());
  const std::string bytes = testing::ReadFileOrEmpty(dir + "/b");
  const size_t kind = bytes.find("checkpoint"), json = bytes.find("step"), name = bytes.find("model"),
               blob = bytes.find("xxxx") + 500, last = bytes.size() - 1;
  for (size_t pos : {kind, json, name, blob, last}) {
    ASSERT_LT(pos, bytes.size());
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x01);
    std::ofstream(dir + "/f", std::ios::binary | std::ios::trunc) << flipped;
    const auto r = ReadBundle(dir + "/f");
    ASSERT_FALSE(r.ok()) << "byte " << pos << " of " << bytes.size();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(r.status().message().find("checksum"), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(dir + "/f"), std::string::npos) << r.status();
  }
}

}  // namespace
}  // namespace asr
