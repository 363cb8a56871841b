// The Trainer end to end on a tiny synthesized corpus (scripts/make-corpus.sh
// --size tiny, made once per run): it learns, resumes exactly, survives a
// corrupt checkpoint, skips and aborts on non-finite steps, and retains
// checkpoints as configured.
#include "model/training/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_split.h"
#include "model/model_io.h"
#include "model/training/evaluator.h"
#include "tests/support/process.h"

namespace asr {
namespace {

std::string g_corpus;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!g_corpus.empty()) return;
    g_corpus = testing::MakeTempDir("asr-corpus");
    const auto r = testing::RunProcess(
        {std::string(ASR_SOURCE_DIR) + "/scripts/make-corpus.sh", "--size", "tiny", "--seed", "3", g_corpus},
        600);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A small configuration that trains in seconds.
  static TrainingConfig Tiny() {
    TrainingConfig c;
    c.train_manifest = g_corpus + "/train.jsonl";
    c.dev_manifest = g_corpus + "/dev.jsonl";
    c.model.hidden_size = 48;
    c.model.num_layers = 2;
    c.model.dropout = 0.1;
    c.data.max_batch_frames = 3000;
    c.data.max_batch_utterances = 16;
    c.data.spec_augment_options.time_mask_width = 20;
    c.data.spec_augment_options.max_time_fraction = 0.2f;
    c.optimizer.lr = 3e-3;
    c.schedule.warmup_steps = 20;
    c.train.epochs = 2;
    c.train.threads = 1;
    c.train.checkpoint_every_steps = 0;
    c.train.log_every_steps = 1;
    return c;
  }
};

TEST_F(TrainerTest, TrainingOnTheTinyCorpusLowersDevCerFarBelowAnUntrainedModel) {
  TrainingConfig c = Tiny();
  c.model.hidden_size = 96;
  c.data.spec_augment = false;
  c.data.speed_factors = {1.0};
  c.train.epochs = 45;  // at 30 the best dev CER ended 0.57-0.60, too near the bar for changes of rounding
  c.train.log_every_steps = 20;
  const std::string out = testing::MakeTempDir();
  std::vector<ProgressEvent> events;
  auto trainer = Trainer::Create(c, out, false, [&](const ProgressEvent& e) { events.push_back(e); });
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  DataReport report;
  auto dev_utts = ReadDataset(c.dev_manifest, &report);
  Dataset dev(*dev_utts, c.model.features, Vocabulary(), c.data, false, 1, &report);
  const double untrained = Evaluate((*trainer)->model(), dev, 1).cer;
  auto result = (*trainer)->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop_reason, StopReason::kCompleted);
  EXPECT_GE(untrained, 0.9);
  EXPECT_LT(result->best_dev_cer, 0.6) << "untrained CER " << untrained;
  // The exported best model reproduces the best dev CER.
  auto best = LoadModel(result->model_path);
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_NEAR(Evaluate(best->model, dev, 1).cer, result->best_dev_cer, 1e-9);
  // The model records its lexicon: exactly the words of the training transcripts.
  const std::set<std::string> digits = {"zero", "one",   "two",   "three", "four", "five",
                                        "six",  "seven", "eight", "nine",  "oh"};
  const std::vector<std::string>& lexicon = best->model->config().lexicon;
  EXPECT_EQ(std::set<std::string>(lexicon.begin(), lexicon.end()), digits);
  // Decoding constrained to it never emits a non-word.
  auto lex = ResolveLexicon("model", best->model);
  ASSERT_TRUE(lex.ok()) << lex.status();
  Evaluate(best->model, dev, CtcDecoderOptions(4, 0, *lex), [&](const EvalSample& s) {
    for (absl::string_view w : absl::StrSplit(s.hypothesis, ' ', absl::SkipEmpty())) {
      EXPECT_TRUE(digits.count(std::string(w))) << s.hypothesis;
    }
  });
  // Progress carried everything a client shows.
  int steps = 0, validations = 0;
  for (const ProgressEvent& e : events) {
    if (e.kind == ProgressEvent::Kind::kStep) {
      ++steps;
      EXPECT_GT(e.frames_per_second, 0);
      EXPECT_GT(e.learning_rate, 0);
      EXPECT_GE(e.eta_seconds, 0);
    }
    validations += e.kind == ProgressEvent::Kind::kValidation;
  }
  EXPECT_GT(steps, 10);
  EXPECT_EQ(validations, 45);
  EXPECT_TRUE(std::filesystem::exists(out + "/train_log.jsonl"));
}

// train.export_model: "best_dev" exports the weights with the lowest dev CER,
// "last" those of the latest validation. A learning rate too small to move
// any weight by an ulp keeps dev CER flat, so the best is the first epoch's
// and the last is the final step's.
TEST_F(TrainerTest, ExportModelWritesTheBestDevOrTheLastValidatedWeights) {
  for (const std::string which : {"best_dev", "last"}) {
    SCOPED_TRACE(which);
    TrainingConfig c = Tiny();
    c.optimizer.lr = 1e-9;
    c.train.epochs = 3;
    c.train.export_model = which == "last" ? ExportModel::kLast : ExportModel::kBestDev;
    auto trainer = Trainer::Create(c, testing::MakeTempDir(), false, nullptr);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto result = (*trainer)->Run();
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_LT(result->best_step, result->steps) << "dev CER improved after the first epoch";
    const int64_t want = which == "last" ? result->steps : result->best_step;
    EXPECT_EQ(result->exported_step, want);
    auto exported = LoadModel(result->model_path);
    ASSERT_TRUE(exported.ok()) << exported.status();
    EXPECT_EQ(exported->metadata.value("step", int64_t{-1}), want);
    EXPECT_EQ(exported->metadata.value("is_best_dev", false), which == "best_dev");
    if (which == "last") {  // the final weights, exactly
      const auto got = exported->model->parameters(), trained = (*trainer)->model()->parameters();
      ASSERT_EQ(got.size(), trained.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i], trained[i])) << i;
    }
  }
}

TEST_F(TrainerTest, WordUnitsLearnTheDigitsAndSkipTranscriptsWithOtherWords) {
  const std::vector<std::string> units = {"zero", "one",   "two",   "three", "four", "five",
                                          "six",  "seven", "eight", "nine",  "oh"};
  TrainingConfig c = Tiny();
  c.model.hidden_size = 96;
  c.model.frame_stacking = 6;
  c.model.word_units = units;
  c.data.spec_augment = false;
  c.data.speed_factors = {1.0};
  c.model.dropout = 0;    // with 0.1 the plateau's end, and so the best CER (0.42-0.60), hung on rounding
  c.optimizer.lr = 6e-3;  // word units leave the all-blank plateau late at 3e-3 on 240 utterances
  c.train.epochs = 40;
  c.train.log_every_steps = 50;
  // A train manifest with one transcript outside the word units: reported and skipped.
  const std::string dir = testing::MakeTempDir();
  {
    std::ifstream in(c.train_manifest);
    std::ofstream out(dir + "/train.jsonl");
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line);
      j["audio_filepath"] = g_corpus + "/" + j["audio_filepath"].get<std::string>();
      if (first) j["text"] = "one double two";
      first = false;
      out << j.dump() << "\n";
    }
  }
  c.train_manifest = dir + "/train.jsonl";
  std::vector<std::string> messages;
  auto trainer =
      Trainer::Create(c, dir + "/out", false, [&](const ProgressEvent& e) { messages.push_back(e.message); });
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_TRUE(std::any_of(messages.begin(), messages.end(), [](const std::string& m) {
    return m.find("word 'double' is not a word unit") != std::string::npos;
  }));
  DataReport report;
  Dataset dev(*ReadDataset(c.dev_manifest, &report), c.model.features, *c.model.MakeVocabulary(), c.data,
              false, 1, &report);
  const double untrained = Evaluate((*trainer)->model(), dev, 1).cer;
  auto result = (*trainer)->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(untrained, 0.9);
  EXPECT_LT(result->best_dev_cer, 0.6) << "untrained CER " << untrained;
  auto best = LoadModel(result->model_path);
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_TRUE(best->model->vocabulary().word_units());
  // Every hypothesis is a sequence of whole digit words.
  const std::set<std::string> digits(units.begin(), units.end());
  int words = 0;
  Evaluate(best->model, dev, 1, [&](const EvalSample& s) {
    for (absl::string_view w : absl::StrSplit(s.hypothesis, ' ', absl::SkipEmpty())) {
      EXPECT_TRUE(digits.count(std::string(w))) << s.hypothesis;
      ++words;
    }
  });
  EXPECT_GT(words, 0);
}

std::map<std::string, torch::Tensor> Params(AcousticModel& m) {
  std::map<std::string, torch::Tensor> p;
  for (const auto& kv : m->named_parameters()) p[kv.key()] = kv.value().detach().clone();
  return p;
}

// How the second run of ExpectResumeIsExact is interrupted.
enum class Interruption {
  kCancel,  // cancelled at step 15: resumes from the checkpoint written on cancel
  kCrash,   // as if killed at step 17: resumes from the periodic checkpoint of step 14
};

// N steps straight equal N/2, an interruption and a resume in a new Trainer
// (loss and parameters within 1e-6).
// threads 2: two data-parallel replicas (train.data_parallel, the default).
void ExpectResumeIsExact(TrainingConfig c, Interruption interruption = Interruption::kCancel) {
  c.train.max_steps = 30;  // crosses an epoch boundary
  c.data.loader_threads = 1;
  const int64_t stop_at = interruption == Interruption::kCancel ? 15 : 17;
  const int64_t resume_at = interruption == Interruption::kCancel ? 15 : 14;
  if (interruption == Interruption::kCrash) {
    c.train.checkpoint_every_steps = 7;  // in both runs: checkpoints must not change training
    c.train.keep_last_checkpoints = 10;
  }
  // N steps straight.
  const std::string a_dir = testing::MakeTempDir();
  double a_loss = 0;
  auto a = Trainer::Create(c, a_dir, false, [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kStep && e.step == 30) a_loss = e.loss;
  });
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE((*a)->Run().ok());
  // N/2, stop, resume in a new Trainer, N/2 more.
  const std::string b_dir = testing::MakeTempDir();
  std::atomic<bool> cancel{false};
  auto b1 = Trainer::Create(c, b_dir, false, [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kStep && e.step == stop_at) cancel = true;
  });
  ASSERT_TRUE(b1.ok());
  auto r1 = (*b1)->Run(&cancel);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->stop_reason, StopReason::kCancelled);
  EXPECT_EQ(r1->steps, stop_at);
  b1->reset();
  if (interruption == Interruption::kCrash) {
    // What a kill leaves: only the checkpoints written before it.
    int kept = 0;
    for (const std::string& path : ListCheckpoints(b_dir + "/checkpoints")) {
      auto ckpt = ReadCheckpoint(path);
      ASSERT_TRUE(ckpt.ok()) << ckpt.status();
      if (ckpt->state.step > resume_at) {
        std::filesystem::remove(path);
      } else {
        ++kept;
      }
    }
    ASSERT_GE(kept, 1);
  }
  double b_loss = 0;
  auto b2 = Trainer::Create(c, b_dir, true, [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kStep && e.step == 30) b_loss = e.loss;
  });
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ((*b2)->state().step, resume_at);
  ASSERT_TRUE((*b2)->Run().ok());
  EXPECT_EQ((*b2)->state().step, 30);
  EXPECT_NEAR(b_loss, a_loss, 1e-6);
  const auto pa = Params((*a)->model()), pb = Params((*b2)->model());
  for (const auto& [name, t] : pa) {
    EXPECT_LE((t - pb.at(name)).abs().max().item<double>(), 1e-6) << name;
  }
  ASSERT_EQ((*a)->averaged_model() != nullptr, c.train.ema_decay > 0);
  ASSERT_EQ((*b2)->averaged_model() != nullptr, c.train.ema_decay > 0);
  if (c.train.ema_decay > 0) {
    const auto ea = Params(*(*a)->averaged_model()), eb = Params(*(*b2)->averaged_model());
    for (const auto& [name, t] : ea) {
      EXPECT_LE((t - eb.at(name)).abs().max().item<double>(), 1e-6) << "averaged " << name;
      EXPECT_GT((t - pa.at(name)).abs().max().item<double>(), 1e-5)
          << "averaged " << name << " is not the trained one";
    }
  }
}

TEST_F(TrainerTest, ResumeIsExact) {
  TrainingConfig c = Tiny();
  ExpectResumeIsExact(c);
}

TEST_F(TrainerTest, ResumeFromAPeriodicCheckpointIsExact) {
  TrainingConfig c = Tiny();
  ExpectResumeIsExact(c, Interruption::kCrash);
}

TEST_F(TrainerTest, ResumeIsExactWithDataParallelReplicas) {
  TrainingConfig c = Tiny();
  c.train.threads = 2;
  ExpectResumeIsExact(c);
}

TEST_F(TrainerTest, ResumeIsExactWithWeightAveraging) {
  TrainingConfig c = Tiny();
  c.train.ema_decay = 0.9;
  ExpectResumeIsExact(c);
}

// The averaged weights follow e_0 = w_0, e_n = d_n e_(n-1) + (1 - d_n) w_n
// with d_n = min(ema_decay, (1 + n) / (10 + n)), recomputed here from the
// trained weights w_n seen after each step; the exported model holds them.
TEST_F(TrainerTest, WeightAveragingFollowsTheDecayAndIsExported) {
  TrainingConfig c = Tiny();
  c.train.ema_decay = 0.5;
  c.train.max_steps = 6;
  const std::string out = testing::MakeTempDir();
  Trainer* trainer = nullptr;
  std::map<std::string, torch::Tensor> expected;
  int64_t seen = 0;
  auto t = Trainer::Create(c, out, false, [&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::kStep) return;
    ++seen;
    const double n = static_cast<double>(e.step), d = std::min(0.5, (1 + n) / (10 + n));
    for (const auto& [name, w] : Params(trainer->model()))
      expected[name] = d * expected.at(name) + (1 - d) * w;
  });
  ASSERT_TRUE(t.ok()) << t.status();
  trainer = t->get();
  expected = Params(trainer->model());
  ASSERT_TRUE(trainer->Run().ok());
  EXPECT_EQ(seen, 6);
  ASSERT_NE(trainer->averaged_model(), nullptr);
  const auto averaged = Params(*trainer->averaged_model()), trained = Params(trainer->model());
  for (const auto& [name, e] : expected) {
    EXPECT_LE((e - averaged.at(name)).abs().max().item<double>(), 1e-6) << name;
    EXPECT_GT((trained.at(name) - averaged.at(name)).abs().max().item<double>(), 1e-5) << name;
  }
  // The exported model and a model loaded from the final checkpoint (what
  // publishing a step serves) are the averaged weights.
  for (const std::string& path : {out + "/model.asrmodel", ListCheckpoints(out + "/checkpoints").at(0)}) {
    auto loaded = LoadModel(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    for (const auto& [name, w] : Params(loaded->model)) {
      EXPECT_LE((w - averaged.at(name)).abs().max().item<double>(), 1e-6) << path << " " << name;
    }
  }
}

TEST_F(TrainerTest, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  TrainingConfig c = Tiny();
  c.train.max_steps = 12;
  c.train.checkpoint_every_steps = 4;
  c.train.keep_last_checkpoints = 5;
  const std::string out = testing::MakeTempDir();
  ASSERT_TRUE((*Trainer::Create(c, out, false, nullptr))->Run().ok());
  const auto ckpts = ListCheckpoints(out + "/checkpoints");
  ASSERT_GE(ckpts.size(), 2u);
  const std::string bytes = testing::ReadFileOrEmpty(ckpts[0]);
  std::ofstream(ckpts[0], std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 3);
  std::vector<std::string> messages;
  auto resumed =
      Trainer::Create(c, out, true, [&](const ProgressEvent& e) { messages.push_back(e.message); });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->state().step, ReadCheckpoint(ckpts[1])->state.step);
  bool reported = false;
  for (const auto& m : messages)
    reported |= m.find("rejected checkpoint") != std::string::npos && m.find(ckpts[0]) != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST_F(TrainerTest, NonFiniteStepsAreSkippedThenAbort) {
  TrainingConfig c = Tiny();
  c.train.max_consecutive_nonfinite = 3;
  auto t = Trainer::Create(c, testing::MakeTempDir(), false, nullptr);
  ASSERT_TRUE(t.ok());
  {
    torch::NoGradGuard g;
    (*t)->model()->lstm()->cell(0, 0).g_x.fill_(NAN);
  }
  auto r = (*t)->Run();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3 consecutive steps"), std::string::npos) << r.status();
  EXPECT_EQ((*t)->state().skipped_steps, 3);
  EXPECT_EQ((*t)->state().step, 0);
}

// Consumers (the job manager's metrics) recognize a skipped step by its
// event kind, not by the words of its message.
TEST_F(TrainerTest, SkippedStepsAreEventsOfTheirOwnKind) {
  TrainingConfig c = Tiny();
  c.train.max_consecutive_nonfinite = 5;
  std::vector<int64_t> skipped;
  auto t = Trainer::Create(c, testing::MakeTempDir(), false, [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kSkippedStep) skipped.push_back(e.skipped_steps);
  });
  ASSERT_TRUE(t.ok());
  {
    torch::NoGradGuard g;
    (*t)->model()->lstm()->cell(0, 0).g_x.fill_(NAN);
  }
  EXPECT_FALSE((*t)->Run().ok());
  EXPECT_EQ(skipped, (std::vector<int64_t>{1, 2, 3, 4})) << "the fifth aborts the run instead";
}

TEST_F(TrainerTest, KeepsTheLastCheckpointsAndTheBest) {
  TrainingConfig c = Tiny();
  c.train.epochs = 3;
  c.train.checkpoint_every_steps = 3;
  c.train.keep_last_checkpoints = 2;
  const std::string out = testing::MakeTempDir();
  auto t = Trainer::Create(c, out, false, nullptr);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  const auto ckpts = ListCheckpoints(out + "/checkpoints");
  std::set<int64_t> steps;
  for (const auto& p : ckpts) steps.insert(ReadCheckpoint(p)->state.step);
  EXPECT_LE(ckpts.size(), 3u);
  EXPECT_TRUE(steps.count((*t)->state().step)) << "newest kept";
  EXPECT_TRUE(steps.count((*t)->state().best_step)) << "best kept";
}

TEST(TrainingConfigTest, RejectsUnknownAndBadFieldsByName) {
  auto r = TrainingConfig::FromJson({{"optimizer", {{"lr", 5}}}});
  EXPECT_NE(r.status().message().find("optimizer.lr"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"train", {{"epoch", 5}}}});
  EXPECT_NE(r.status().message().find("train.epoch"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"data", {{"speed_factors", {3.0}}}}});
  EXPECT_NE(r.status().message().find("data.speed_factors"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"schedule", {{"decay", "linear-ish"}}}});
  EXPECT_NE(r.status().message().find("schedule.decay"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"model", {{"num_layers", "three"}}}});
  EXPECT_NE(r.status().message().find("model.num_layers"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"train", {{"device", "tpu"}}}});
  EXPECT_NE(r.status().message().find("train.device"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"train", {{"data_parallel", 2}}}});
  EXPECT_NE(r.status().message().find("train.data_parallel"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"train", {{"precision", "bf16"}}}});  // on the default device, cpu
  EXPECT_NE(r.status().message().find("train.precision"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"train", {{"precision", "fp8"}, {"device", "cuda"}}}});
  EXPECT_NE(r.status().message().find("train.precision"), std::string::npos) << r.status();
  for (double decay : {1.0, -0.1}) {
    r = TrainingConfig::FromJson({{"train", {{"ema_decay", decay}}}});
    EXPECT_NE(r.status().message().find("train.ema_decay"), std::string::npos) << r.status();
  }
  r = TrainingConfig::FromJson({{"train", {{"export_model", "best"}}}});
  EXPECT_NE(r.status().message().find("train.export_model"), std::string::npos) << r.status();
  EXPECT_TRUE(TrainingConfig::FromJson({{"train", {{"export_model", "last"}}}}).ok());
  for (double beta : {1.5, -0.1}) {
    r = TrainingConfig::FromJson({{"train", {{"confidence_penalty", beta}}}});
    EXPECT_NE(r.status().message().find("train.confidence_penalty"), std::string::npos) << r.status();
  }
  for (double w : {1.0, -0.1}) {
    r = TrainingConfig::FromJson({{"train", {{"intermediate_ctc_weight", w}}}});
    EXPECT_NE(r.status().message().find("train.intermediate_ctc_weight"), std::string::npos) << r.status();
  }
  for (int layer : {3, -1}) {  // the default model has 3 layers
    r = TrainingConfig::FromJson(
        {{"train", {{"intermediate_ctc_weight", 0.3}, {"intermediate_ctc_layer", layer}}}});
    EXPECT_NE(r.status().message().find("train.intermediate_ctc_layer"), std::string::npos) << r.status();
  }
  r = TrainingConfig::FromJson(
      {{"model", {{"num_layers", 1}}}, {"train", {{"intermediate_ctc_weight", 0.3}}}});
  EXPECT_NE(r.status().message().find("train.intermediate_ctc_layer"), std::string::npos) << r.status();
  EXPECT_TRUE(
      TrainingConfig::FromJson({{"train", {{"intermediate_ctc_weight", 0.3}, {"intermediate_ctc_layer", 2}}}})
          .ok());
  r = TrainingConfig::FromJson(
      {{"model", {{"features", {{"type", "mfcc"}}}}}, {"data", {{"vtlp_max_warp", 0.1}}}});
  EXPECT_NE(r.status().message().find("data.vtlp_max_warp"), std::string::npos) << r.status();
  const nlohmann::json noisy = {{"noise_augment", {{"noise_probability", 0.5}}}};
  r = TrainingConfig::FromJson({{"model", {{"features", {{"type", "mfcc"}}}}}, {"data", noisy}});
  EXPECT_NE(r.status().message().find("data.noise_augment"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"model", {{"features", {{"use_energy", true}}}}}, {"data", noisy}});
  EXPECT_NE(r.status().message().find("data.noise_augment"), std::string::npos) << r.status();
  r = TrainingConfig::FromJson({{"data", {{"noise_augment", {{"snr_db", {30, 10}}}}}}});
  EXPECT_NE(r.status().message().find("data.noise_augment.snr_db"), std::string::npos) << r.status();
  EXPECT_TRUE(TrainingConfig::FromJson({{"data", noisy}}).ok());
  TrainingConfig c;
  c.optimizer.lr = 1e-3;
  c.train.epochs = 7;
  auto back = TrainingConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), c.ToJson());
}

TEST(TrainingConfigTest, WarmupThenCosineDecay) {
  OptimizerOptions o;
  o.lr = 1.0;
  ScheduleOptions s;
  s.warmup_steps = 10;
  s.min_lr_ratio = 0.1;
  EXPECT_NEAR(LearningRate(o, s, 0, 110), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 9, 110), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 60, 110), 0.55, 1e-12);  // half way down
  EXPECT_NEAR(LearningRate(o, s, 110, 110), 0.1, 1e-12);
  // A time budget's clock moves the decay on where it is ahead of the steps.
  EXPECT_NEAR(LearningRate(o, s, 20, 110, 0.5), 0.55, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 60, 110, 0.2), 0.55, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 20, 110, 1.5), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 5, 110, 0.9), 0.6, 1e-12) << "warmup follows the steps";
}

TEST_F(TrainerTest, ARunItsTimeBudgetCutsShortEndsWithTheDecayedLearningRate) {
  TrainingConfig c = Tiny();
  c.schedule.warmup_steps = 2;
  c.train.epochs = 10000;  // by steps, the decay has barely begun when the budget ends
  c.train.time_budget_minutes = 0.1;
  std::vector<ProgressEvent> steps;
  auto t = Trainer::Create(c, testing::MakeTempDir(), false, [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::kStep) steps.push_back(e);
  });
  ASSERT_TRUE(t.ok()) << t.status();
  auto r = (*t)->Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_reason, StopReason::kTimeBudget);
  ASSERT_GE(steps.size(), 10u);
  // The floor is 0.05 * 3e-3; by steps alone the last rate would be ~3e-3.
  EXPECT_LT(steps.back().learning_rate, 0.25 * c.optimizer.lr) << "after " << steps.size() << " steps";
  EXPECT_GT(steps[steps.size() / 4].learning_rate, steps.back().learning_rate);
}

}  // namespace
}  // namespace asr
