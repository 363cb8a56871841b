// Manifests, bucketing, background loading and bad-entry handling.
#include "model/training/dataset.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "features/audio.h"
#include "tests/support/process.h"

namespace asr {
namespace {

void WriteTone(const std::string& path, double seconds, int rate = 16000) {
  SF_INFO info{};
  info.channels = 1;
  info.samplerate = rate;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  std::vector<float> s(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < s.size(); ++i) s[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  sf_writef_float(f, s.data(), static_cast<sf_count_t>(s.size()));
  sf_close(f);
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    std::filesystem::create_directories(dir_ + "/audio");
    std::ofstream m(dir_ + "/train.jsonl");
    for (int i = 0; i < 20; ++i) {
      const std::string rel = "audio/" + std::to_string(i) + ".wav";
      WriteTone(dir_ + "/" + rel, 0.5 + 0.1 * i);
      m << nlohmann::json{{"audio_filepath", rel}, {"duration", 0.5 + 0.1 * i}, {"text", "one two"}}.dump()
        << "\n";
    }
    m << "{not json\n";
    m << nlohmann::json{{"audio_filepath", "audio/missing.wav"}, {"duration", 1.0}, {"text", "x"}}.dump()
      << "\n";
    m << nlohmann::json{{"audio_filepath", "audio/0.wav"}, {"text", 7}}.dump() << "\n";
  }
  std::string dir_;
};

TEST_F(DatasetTest, ReadsNemoManifestResolvingRelativePathsAndReportingBadLines) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  ASSERT_TRUE(utts.ok()) << utts.status();
  EXPECT_EQ(utts->size(), 20u);
  EXPECT_EQ((*utts)[3].audio_path, dir_ + "/audio/3.wav");
  EXPECT_EQ(report.entries, 23);
  EXPECT_EQ(report.skipped, 3);
  ASSERT_EQ(report.problems.size(), 3u);
  EXPECT_NE(report.problems[0].find("train.jsonl:21"), std::string::npos) << report.problems[0];
  EXPECT_NE(report.problems[1].find("missing.wav"), std::string::npos) << report.problems[1];
  EXPECT_FALSE(ReadNemoManifest(dir_ + "/nope.jsonl", &report).ok());
}

TEST_F(DatasetTest, ReadsKaldiDirectoriesWithHeaderDurations) {
  const std::string k = dir_ + "/kaldi";
  std::filesystem::create_directories(k);
  std::ofstream(k + "/wav.scp") << "u1 " << dir_
                                << "/audio/2.wav\nu2 ../audio/5.wav\nu3 sox a.wav -t wav - |\n";
  std::ofstream(k + "/text") << "u1 hello world\nu2 zero\n";
  DataReport report;
  auto utts = ReadDataset(k, &report);
  ASSERT_TRUE(utts.ok()) << utts.status();
  ASSERT_EQ(utts->size(), 2u);
  EXPECT_EQ((*utts)[0].id, "u1");
  EXPECT_EQ((*utts)[0].text, "hello world");
  EXPECT_NEAR((*utts)[1].duration, 1.0, 1e-3);
  EXPECT_EQ(report.skipped, 1);  // the piped entry
}

// Confinement to a data root (the server's): audio must resolve, symlinks
// and ".." included, to a file inside the root. Laid out under one
// temporary directory:
//   root/audio/in.wav            a real file
//   root/inside.wav -> audio/in.wav, root/escape.wav -> ../outside/secret.wav,
//   root/absolute.wav -> BASE/outside/secret.wav, root/linked -> BASE/outside
//   outside/secret.wav, root-sibling/x.wav  (a name that shares the root's prefix)
//   rootlink -> root             (the data root given through a symlink)
TEST(DatasetConfinementTest, AudioMustResolveInsideTheDataRoot) {
  namespace fs = std::filesystem;
  const std::string base = fs::canonical(testing::MakeTempDir()).string();
  const std::string root = base + "/root";
  fs::create_directories(root + "/audio");
  fs::create_directories(base + "/outside");
  fs::create_directories(base + "/root-sibling");
  WriteTone(root + "/audio/in.wav", 0.5);
  WriteTone(base + "/outside/secret.wav", 0.5);
  WriteTone(base + "/root-sibling/x.wav", 0.5);
  fs::create_symlink("audio/in.wav", root + "/inside.wav");
  fs::create_symlink("../outside/secret.wav", root + "/escape.wav");
  fs::create_symlink(base + "/outside/secret.wav", root + "/absolute.wav");
  fs::create_directory_symlink(base + "/outside", root + "/linked");
  fs::create_directory_symlink(root, base + "/rootlink");
  const std::vector<std::string> inside = {"audio/in.wav", "audio/../audio/in.wav", "./inside.wav",
                                           root + "/audio/in.wav"};
  const std::vector<std::string> outside = {"escape.wav",
                                            "absolute.wav",
                                            "linked/secret.wav",
                                            "../outside/secret.wav",
                                            "audio/../../outside/secret.wav",
                                            "../root-sibling/x.wav",
                                            base + "/outside/secret.wav",
                                            root + "/../outside/secret.wav"};
  std::ofstream manifest(root + "/m.jsonl");
  std::ofstream scp(root + "/wav.scp"), text(root + "/text");
  int n = 0;
  for (const auto* list : {&inside, &outside}) {
    for (const std::string& path : *list) {
      manifest << nlohmann::json{{"audio_filepath", path}, {"duration", 0.5}, {"text", "x"}}.dump() << "\n";
      scp << "u" << n << " " << path << "\n";
      text << "u" << n++ << " x\n";
    }
  }
  manifest.close();
  scp.close();
  text.close();
  for (const std::string& confine : {root, base + "/rootlink", root + "/"}) {
    for (const std::string& dataset : {root + "/m.jsonl", root}) {
      const std::string what = dataset + " confined to " + confine;
      DataReport report;
      auto utts = ReadDataset(dataset, &report, confine);
      ASSERT_TRUE(utts.ok()) << what << ": " << utts.status();
      EXPECT_EQ(utts->size(), inside.size()) << what;
      EXPECT_EQ(report.skipped, static_cast<int64_t>(outside.size())) << what;
      for (const Utterance& u : *utts) {
        EXPECT_EQ(fs::canonical(u.audio_path).string(), root + "/audio/in.wav")
            << what << ": " << u.audio_path;
      }
      for (const std::string& problem : report.problems) {
        EXPECT_NE(problem.find("outside the data root"), std::string::npos) << what << ": " << problem;
      }
    }
  }
  // Unconfined (the command-line trainer), every entry reads.
  DataReport report;
  auto all = ReadDataset(root + "/m.jsonl", &report);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), inside.size() + outside.size());
}

TEST_F(DatasetTest, BatchesRespectCapsAndAreDeterministic) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  DataOptions o = DataOptions::Default();
  o.max_batch_frames = 600;
  o.max_batch_utterances = 4;
  Dataset ds(*utts, FeatureOptions(), Vocabulary(), o, /*train=*/true, 5, &report);
  const auto a = ds.EpochBatches(1), b = ds.EpochBatches(1), c = ds.EpochBatches(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);                        // reshuffled per epoch
  const auto first = ds.EpochBatches(0);  // sortagrad: shortest first
  for (size_t k = 1; k < first.size(); ++k) {
    EXPECT_LE(ds.utterance(first[k - 1].back()).duration, ds.utterance(first[k].front()).duration);
  }
  size_t total = 0;
  for (const auto& batch : a) {
    EXPECT_LE(batch.size(), 4u);
    double longest = 0;
    for (int64_t i : batch) longest = std::max(longest, ds.utterance(i).duration);
    EXPECT_LE(static_cast<double>(batch.size()) * (longest / 0.9 * 100 + 1), 600 + 1e-6);
    total += batch.size();
  }
  EXPECT_EQ(total, 20u);
}

TEST_F(DatasetTest, BackgroundLoaderDeliversTheSameBatchesInOrder) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  DataOptions o = DataOptions::Default();
  o.max_batch_frames = 500;
  Dataset ds(*utts, FeatureOptions(), Vocabulary(), o, true, 9, &report);
  BatchLoader sync(ds, 2, 1, /*threads=*/0, 2), async(ds, 2, 1, /*threads=*/3, 2);
  int64_t n = 0;
  while (auto x = sync.Next()) {
    auto y = async.Next();
    ASSERT_TRUE(y.has_value());
    EXPECT_EQ(x->index, y->index);
    EXPECT_EQ(x->utterances, y->utterances);
    EXPECT_TRUE(torch::equal(x->feats, y->feats)) << "augmentation must not depend on the thread";
    ++n;
  }
  EXPECT_FALSE(async.Next().has_value());
  EXPECT_EQ(n, sync.num_batches() - 1);  // started at batch 1
}

TEST_F(DatasetTest, CorruptAudioIsSkippedCountedAndNotRetried) {
  std::ofstream(dir_ + "/audio/7.wav") << "RIFF garbage";
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  Dataset ds(*utts, FeatureOptions(), Vocabulary(), DataOptions::Default(), false, 1, &report);
  int64_t loaded = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    BatchLoader loader(ds, epoch, 0, 1, 2);
    while (auto b = loader.Next()) loaded += b->size();
  }
  EXPECT_EQ(loaded, 2 * 19);
  EXPECT_EQ(ds.failed(), 1);
  const auto problems = ds.TakeProblems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("audio/7.wav"), std::string::npos) << problems[0];
}

TEST_F(DatasetTest, AugmentationOnlyOnTrainAndReproducible) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  Dataset train(*utts, FeatureOptions(), Vocabulary(), DataOptions::Default(), true, 3, &report);
  Dataset dev(*utts, FeatureOptions(), Vocabulary(), DataOptions::Default(), false, 3, &report);
  const Matrix plain = *dev.LoadFeatures(10, 0);
  EXPECT_EQ(dev.LoadFeatures(10, 5)->data, plain.data);
  EXPECT_EQ(train.LoadFeatures(10, -1)->data, plain.data);  // epoch -1: no augmentation
  bool differs = false;
  for (int epoch = 0; epoch < 4; ++epoch) {
    const Matrix a = *train.LoadFeatures(10, epoch), b = *train.LoadFeatures(10, epoch);
    EXPECT_EQ(a.data, b.data);
    differs |= a.data != plain.data;
  }
  EXPECT_TRUE(differs);
}

TEST_F(DatasetTest, VtlpWarpsTrainFeaturesPerUtteranceAndEpochOnly) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  DataOptions o = DataOptions::Default();
  o.spec_augment = false;
  o.speed_factors = {1.0};
  const Dataset plain(*utts, FeatureOptions(), Vocabulary(), o, true, 3, &report);
  o.vtlp_max_warp = 0.1;
  const Dataset warped(*utts, FeatureOptions(), Vocabulary(), o, true, 3, &report);
  const Dataset dev(*utts, FeatureOptions(), Vocabulary(), o, false, 3, &report);
  const Matrix reference = *plain.LoadFeatures(4, 0);
  EXPECT_EQ(dev.LoadFeatures(4, 0)->data, reference.data);
  EXPECT_EQ(warped.LoadFeatures(4, -1)->data, reference.data);
  std::set<std::vector<float>> seen;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const Matrix a = *warped.LoadFeatures(4, epoch);
    EXPECT_EQ(a.data, warped.LoadFeatures(4, epoch)->data);
    EXPECT_NE(a.data, reference.data);
    seen.insert(a.data);
  }
  EXPECT_EQ(seen.size(), 3u) << "each epoch draws its own warp factor";
  o.vtlp_max_warp = 0.5;
  EXPECT_FALSE(o.Validate().ok());
}

// The default cache (4096 MiB: 2^32 bytes, past a 32-bit int) holds
// features; a smaller one stops at its size; off holds none.
TEST_F(DatasetTest, TheFeatureCacheHoldsUpToItsSize) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  ASSERT_TRUE(utts.ok());
  for (const auto& [cache, megabytes] :
       std::vector<std::pair<bool, int>>{{true, 4096}, {true, 0}, {false, 4096}}) {
    DataOptions o = DataOptions::Default();
    o.cache_features = cache;
    o.cache_max_megabytes = megabytes;
    const Dataset ds(*utts, FeatureOptions(), Vocabulary(), o, false, 1, &report);
    for (int64_t i = 0; i < 5; ++i) ASSERT_TRUE(ds.LoadFeatures(i, 0).ok());
    if (cache && megabytes > 0) {
      EXPECT_GT(ds.cached_bytes(), 5 * 40 * 80 * 4) << "5 utterances of >= 0.5 s, 80 floats per 10 ms frame";
    } else {
      EXPECT_EQ(ds.cached_bytes(), 0) << cache << " " << megabytes;
    }
  }
}

TEST_F(DatasetTest, NoiseAugmentationRaisesTrainFeaturesPerUtteranceAndEpochOnly) {
  DataReport report;
  auto utts = ReadNemoManifest(dir_ + "/train.jsonl", &report);
  DataOptions o = DataOptions::Default();
  o.spec_augment = false;
  o.speed_factors = {1.0};
  const Dataset plain(*utts, FeatureOptions(), Vocabulary(), o, true, 3, &report);
  o.noise_augment.noise_probability = 1;
  o.noise_augment.snr_db = {0, 0};
  const Dataset noisy(*utts, FeatureOptions(), Vocabulary(), o, true, 3, &report);
  const Dataset dev(*utts, FeatureOptions(), Vocabulary(), o, false, 3, &report);
  const Matrix reference = *plain.LoadFeatures(4, 0);
  EXPECT_EQ(dev.LoadFeatures(4, 0)->data, reference.data);
  EXPECT_EQ(noisy.LoadFeatures(4, -1)->data, reference.data);
  std::set<std::vector<float>> seen;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const Matrix a = *noisy.LoadFeatures(4, epoch);
    EXPECT_EQ(a.data, noisy.LoadFeatures(4, epoch)->data);
    double rise = 0;  // noise only adds power: mean log-mel rise
    for (size_t k = 0; k < a.data.size(); ++k) {
      ASSERT_GE(a.data[k], reference.data[k] - 1e-4f) << k;
      rise += (a.data[k] - reference.data[k]) / a.data.size();
    }
    EXPECT_GT(rise, 0.5) << "0 dB SNR must be audible";
    seen.insert(a.data);
  }
  EXPECT_EQ(seen.size(), 3u) << "each epoch draws its own noise";
  o.noise_augment.noise_probability = 2;
  EXPECT_NE(o.Validate().message().find("data.noise_augment.noise_probability"), std::string::npos);
}

TEST(ErrorCountsTest, CountsCharacterAndWordEdits) {
  ErrorCounts c;
  c.Add("one two three", "one too three");
  EXPECT_EQ(c.words, 3);
  EXPECT_EQ(c.word_edits, 1);
  EXPECT_EQ(c.chars, 13);
  EXPECT_EQ(c.char_edits, 1);
  c.Add("five", "");
  EXPECT_NEAR(c.wer(), 2.0 / 4, 1e-12);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::string kMakeCorpus = std::string(ASR_SOURCE_DIR) + "/scripts/make-corpus.sh";

// Runs make-corpus --size tiny --seed 5 with `extra` options into a new
// folder and returns it.
std::string MakeTinyCorpus(const std::vector<std::string>& extra) {
  const std::string dir = testing::MakeTempDir("asr-corpus");
  std::vector<std::string> argv = {kMakeCorpus, "--size", "tiny", "--seed", "5"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(dir);
  const auto r = testing::RunProcess(argv, 600);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

// Counts the training rows of `dir` whose voice passes `selected`, and
// checks that each of them decodes to real speech-length signal. `total`
// gets the number of rows passing `among`.
int CountSpeakingRows(const std::string& dir, const std::function<bool(const std::string&)>& among,
                      const std::function<bool(const std::string&)>& selected, int* total) {
  DataReport report;
  auto utts = ReadNemoManifest(dir + "/train.jsonl", &report);
  EXPECT_TRUE(utts.ok()) << utts.status();
  EXPECT_EQ(report.skipped, 0);
  std::ifstream in(dir + "/train.jsonl");
  int count = 0;
  *total = 0;
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    const std::string voice = row["voice"].get<std::string>();
    if (!among(voice)) continue;
    ++*total;
    if (!selected(voice)) continue;
    ++count;
    auto audio = DecodeAudioFile(dir + "/" + row["audio_filepath"].get<std::string>());
    EXPECT_TRUE(audio.ok()) << audio.status();
    if (!audio.ok()) continue;
    double energy = 0;
    for (float v : audio->samples) energy += static_cast<double>(v) * v;
    const double seconds = static_cast<double>(audio->samples.size()) / audio->sample_rate;
    EXPECT_GT(seconds, 0.3) << line;
    EXPECT_GT(std::sqrt(energy / std::max<size_t>(audio->samples.size(), 1)), 1e-3) << line;
  }
  return count;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// make-corpus --random-speakers: the training split gets speakers from
// generated espeak-ng variant files, whose audio is real speech-length
// signal; dev and test do not change, and every row still loads.
TEST(CorpusTest, RandomSpeakersJoinTrainOnlyAndSpeak) {
  const std::string plain = MakeTinyCorpus({"--random-speakers", "0"});
  const std::string mixed = MakeTinyCorpus({"--random-speakers", "0.5"});
  EXPECT_EQ(ReadFile(plain + "/dev.jsonl"), ReadFile(mixed + "/dev.jsonl"));
  EXPECT_EQ(ReadFile(plain + "/test.jsonl"), ReadFile(mixed + "/test.jsonl"));
  EXPECT_EQ(ReadFile(plain + "/train.jsonl").find("+random"), std::string::npos);
  int espeak_rows = 0;
  const int random_rows = CountSpeakingRows(
      mixed, [](const std::string& v) { return StartsWith(v, "espeak:"); },
      [](const std::string& v) { return v.size() >= 7 && v.substr(v.size() - 7) == "+random"; },
      &espeak_rows);
  EXPECT_GT(random_rows, espeak_rows / 4) << random_rows << " of " << espeak_rows;
  EXPECT_LT(random_rows, espeak_rows * 3 / 4) << random_rows << " of " << espeak_rows;
}

// make-corpus --accented-voices on: Italian, Czech and Finnish diphone voices
// speak about 12% of the training utterances (and only those), as real
// speech; dev and test do not change. They only know the digit words.
TEST(CorpusTest, AccentedVoicesJoinTrainOnlyAndSpeak) {
  const std::string plain = MakeTinyCorpus({"--accented-voices", "off"});
  const std::string accented = MakeTinyCorpus({"--accented-voices", "on"});
  EXPECT_EQ(ReadFile(plain + "/dev.jsonl"), ReadFile(accented + "/dev.jsonl"));
  EXPECT_EQ(ReadFile(plain + "/test.jsonl"), ReadFile(accented + "/test.jsonl"));
  for (const std::string split : {"train", "dev", "test"}) {  // dev and test: of both corpora (equal above)
    EXPECT_EQ(ReadFile(plain + "/" + split + ".jsonl").find("accented:"), std::string::npos) << split;
  }
  int rows = 0;
  std::set<std::string> voices;
  const int accented_rows = CountSpeakingRows(
      accented, [](const std::string&) { return true; },
      [&voices](const std::string& v) {
        if (!StartsWith(v, "accented:")) return false;
        voices.insert(v);
        return true;
      },
      &rows);
  EXPECT_GT(accented_rows, rows / 20) << accented_rows << " of " << rows;
  EXPECT_LT(accented_rows, rows / 4) << accented_rows << " of " << rows;
  EXPECT_GE(voices.size(), 4u);  // of 7, over ~29 draws

  const std::string words = testing::MakeTempDir("asr-corpus");
  const auto r = testing::RunProcess(
      {kMakeCorpus, "--size", "tiny", "--vocabulary", "words", "--accented-voices", "on", words}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("only know the digit words"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace asr
