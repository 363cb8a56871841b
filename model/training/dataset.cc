#include "model/training/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "features/pipeline.h"
#include "features/resample.h"
#include "model/base/edit_distance.h"
#include "model/base/seed_mix.h"

namespace asr {
namespace {

uint64_t Mix(uint64_t x) { return SplitMix64Finalize(x + 0x9e3779b97f4a7c15ULL); }  // one SplitMix64 step

uint64_t Seed3(uint64_t a, uint64_t b, uint64_t c) { return Mix(Mix(Mix(a) ^ b) ^ c); }

std::string Resolve(const std::filesystem::path& base, const std::string& p) {
  const std::filesystem::path path(p);
  return path.is_absolute() ? p : (base / path).lexically_normal().string();
}

// True if `path` (after resolving symlinks) lies inside `root`.
bool Inside(const std::string& root, const std::string& path) {
  std::error_code ec;
  const auto r = std::filesystem::weakly_canonical(root, ec), p = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  return std::mismatch(r.begin(), r.end(), p.begin(), p.end()).first == r.end();
}

// How a path appears in messages: relative to `root` when it lies inside
// it (confined readers never show the root itself), else as given.
std::string Shown(const std::string& root, const std::string& path, const std::string& given) {
  if (root.empty()) return path;
  const std::filesystem::path rel = std::filesystem::path(path).lexically_normal().lexically_relative(
      std::filesystem::path(root).lexically_normal());
  return rel.empty() || *rel.begin() == ".." ? given : rel.string();
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> Chars(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

}  // namespace

void DataReport::Add(const std::string& problem) {
  ++skipped;
  if (problems.size() < 100) problems.push_back(problem);
}

void DataReport::AddOutsideRoot(const std::string& problem) {
  if (outside_root.empty()) outside_root = problem;
  Add(problem);
}

absl::StatusOr<std::vector<Utterance>> ReadNemoManifest(const std::string& path, DataReport* report,
                                                        const std::string& confine_to) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open manifest '", path, "'"));
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  std::vector<Utterance> out;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++report->entries;
    const auto where = absl::StrCat(Shown(confine_to, path, path), ":", line_no);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      report->Add(absl::StrCat(where, ": not a JSON object"));
      continue;
    }
    if (!j.contains("audio_filepath") || !j["audio_filepath"].is_string() || !j.contains("text") ||
        !j["text"].is_string()) {
      report->Add(absl::StrCat(where, ": needs string fields audio_filepath and text"));
      continue;
    }
    Utterance u;
    u.id = absl::StrCat(line_no);
    u.audio_path = Resolve(base, j["audio_filepath"].get<std::string>());
    u.text = j["text"].get<std::string>();
    const std::string& given = j["audio_filepath"].get_ref<const std::string&>();
    if (!confine_to.empty() && !Inside(confine_to, u.audio_path)) {  // before the file is touched
      report->AddOutsideRoot(absl::StrCat(where, ": audio file '", given, "' is outside the data root"));
      continue;
    }
    const std::string shown = Shown(confine_to, u.audio_path, given);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(u.audio_path, ec)) {
      report->Add(absl::StrCat(where, ": audio file '", shown, "' is missing"));
      continue;
    }
    if (j.contains("duration") && j["duration"].is_number()) {
      u.duration = j["duration"].get<double>();
    } else {
      auto d = ProbeAudioDuration(u.audio_path);
      if (!d.ok()) {
        report->Add(absl::StrCat(where, ": audio file '", shown,
                                 "': ", absl::StrReplaceAll(d.status().message(), {{u.audio_path, shown}})));
        continue;
      }
      u.duration = *d;
    }
    out.push_back(std::move(u));
  }
  return out;
}

absl::StatusOr<std::vector<Utterance>> ReadKaldiDir(const std::string& dir, DataReport* report,
                                                    const std::string& confine_to) {
  std::ifstream scp(dir + "/wav.scp"), text(dir + "/text");
  if (!scp) return absl::NotFoundError(absl::StrCat("cannot open '", dir, "/wav.scp'"));
  if (!text) return absl::NotFoundError(absl::StrCat("cannot open '", dir, "/text'"));
  std::map<std::string, std::string> transcripts;
  for (std::string line; std::getline(text, line);) {
    const size_t sp = line.find_first_of(" \t");
    if (sp == std::string::npos) continue;
    transcripts[line.substr(0, sp)] = line.substr(line.find_first_not_of(" \t", sp) == std::string::npos
                                                      ? line.size()
                                                      : line.find_first_not_of(" \t", sp));
  }
  std::vector<Utterance> out;
  for (std::string line; std::getline(scp, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++report->entries;
    std::istringstream ls(line);
    Utterance u;
    ls >> u.id;
    std::string rest;
    std::getline(ls, rest);
    rest = rest.substr(std::min(rest.size(), rest.find_first_not_of(" \t")));
    if (!rest.empty() && rest.back() == '|') {
      report->Add(absl::StrCat(dir, "/wav.scp: ", u.id, ": piped commands are not supported"));
      continue;
    }
    u.audio_path = Resolve(std::filesystem::path(dir), rest);
    if (!confine_to.empty() && !Inside(confine_to, u.audio_path)) {
      report->AddOutsideRoot(
          absl::StrCat(Shown(confine_to, dir, dir), "/wav.scp: ", u.id, ": audio outside the data root"));
      continue;
    }
    const auto t = transcripts.find(u.id);
    if (t == transcripts.end()) {
      report->Add(absl::StrCat(dir, "/text: no transcript for ", u.id));
      continue;
    }
    u.text = t->second;
    auto d = ProbeAudioDuration(u.audio_path);
    if (!d.ok()) {
      report->Add(absl::StrCat(dir, "/wav.scp: ", u.id, ": ", d.status().message()));
      continue;
    }
    u.duration = *d;
    out.push_back(std::move(u));
  }
  return out;
}

absl::StatusOr<std::vector<Utterance>> ReadDataset(const std::string& path, DataReport* report,
                                                   const std::string& confine_to) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return ReadKaldiDir(path, report, confine_to);
  return ReadNemoManifest(path, report, confine_to);
}

DataOptions DataOptions::Default() {
  DataOptions o;
  o.spec_augment_options = *SpecAugmentOptions::Preset("LD");
  o.spec_augment_options.time_warp = 0;  // little gain, costs a copy per utterance
  return o;
}

absl::Status DataOptions::Validate() const {
  if (max_batch_frames < 100) return absl::InvalidArgumentError("data.max_batch_frames: must be >= 100");
  if (max_batch_utterances < 1) return absl::InvalidArgumentError("data.max_batch_utterances: must be >= 1");
  if (!(max_utterance_seconds > 0))
    return absl::InvalidArgumentError("data.max_utterance_seconds: must be > 0");
  if (speed_factors.empty()) return absl::InvalidArgumentError("data.speed_factors: must not be empty");
  for (double f : speed_factors) {
    if (!(f >= 0.5 && f <= 2.0)) {
      return absl::InvalidArgumentError(absl::StrCat("data.speed_factors: ", f, " not in [0.5, 2]"));
    }
  }
  if (absl::Status st = spec_augment_options.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data.spec_augment_options.", st.message()));
  }
  if (!(vtlp_max_warp >= 0 && vtlp_max_warp <= 0.3)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.vtlp_max_warp: ", vtlp_max_warp, " not in [0, 0.3]"));
  }
  if (absl::Status st = noise_augment.Validate(); !st.ok()) return st;
  if (cache_max_megabytes < 0) return absl::InvalidArgumentError("data.cache_max_megabytes: must be >= 0");
  if (loader_threads < 0 || loader_threads > 64)
    return absl::InvalidArgumentError("data.loader_threads: not in [0, 64]");
  if (prefetch_batches < 1) return absl::InvalidArgumentError("data.prefetch_batches: must be >= 1");
  return absl::OkStatus();
}

Dataset::Dataset(std::vector<Utterance> utterances, const FeatureOptions& features, const Vocabulary& vocab,
                 const DataOptions& options, bool train, uint64_t seed, DataReport* report)
    : features_(features), vocab_(vocab), opts_(options), train_(train), seed_(seed) {
  if (train_ && opts_.vtlp_max_warp > 0 && features_.type == FeatureType::kFbank)
    vtlp_.emplace(features_.fbank);
  if (train_ && opts_.noise_augment.enabled() && features_.type == FeatureType::kFbank) {
    auto n = NoiseAugmenter::Create(features_.fbank, opts_.noise_augment);
    if (n.ok())
      noise_.emplace(std::move(*n));
    else
      report->Add(absl::StrCat("noise augmentation off: ", n.status().message()));
  }
  for (Utterance& u : utterances) {
    if (u.duration > opts_.max_utterance_seconds) {
      report->Add(absl::StrCat(u.audio_path, ": ", u.duration, " s is longer than max_utterance_seconds ",
                               opts_.max_utterance_seconds));
      continue;
    }
    auto ids = vocab_.Encode(u.text);
    if (!ids.ok()) {
      report->Add(absl::StrCat(u.audio_path, ": ", ids.status().message()));
      continue;
    }
    targets_.push_back(std::move(*ids));
    utts_.push_back(std::move(u));
  }
  bad_.assign(utts_.size(), false);
}

double Dataset::total_seconds() const {
  double s = 0;
  for (const Utterance& u : utts_) s += u.duration;
  return s;
}

double Dataset::SpeedFactor(int64_t i, int64_t epoch) const {
  if (!train_ || epoch < 0) return 1.0;
  if (opts_.speed_factors.size() == 1) return opts_.speed_factors[0];
  const uint64_t h = Seed3(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i) ^ 0x5eed);
  return opts_.speed_factors[h % opts_.speed_factors.size()];
}

absl::StatusOr<Matrix> Dataset::LoadFeatures(int64_t i, int64_t epoch) const {
  const Utterance& u = utts_[static_cast<size_t>(i)];
  const double speed = SpeedFactor(i, epoch);
  const std::pair<int64_t, int> key{i, static_cast<int>(std::lround(speed * 100))};
  Matrix feats;
  bool cached = false;
  if (opts_.cache_features) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      feats = it->second;
      cached = true;
    }
  }
  if (!cached) {
    DecodeOptions dec;
    dec.max_seconds = opts_.max_utterance_seconds * 1.5 + 1;
    auto audio = DecodeAudioFile(u.audio_path, dec);
    if (!audio.ok()) return audio.status();
    if (speed != 1.0) {
      auto perturbed = SpeedPerturb(audio->samples, audio->sample_rate, speed);
      if (!perturbed.ok()) return perturbed.status();
      audio->samples = std::move(*perturbed);
    }
    auto f = ExtractFeatures(*audio, features_);
    if (!f.ok()) return f.status();
    if (f->rows == 0)
      return absl::InvalidArgumentError(absl::StrCat("'", u.audio_path, "': too short for one frame"));
    feats = std::move(*f);
    if (opts_.cache_features) {
      std::lock_guard<std::mutex> lock(mu_);
      const int64_t bytes = static_cast<int64_t>(feats.data.size() * sizeof(float));
      if (cache_bytes_ + bytes <= (static_cast<int64_t>(opts_.cache_max_megabytes) << 20) &&
          !cache_.count(key)) {
        cache_[key] = feats;
        cache_bytes_ += bytes;
      }
    }
  }
  if (vtlp_ && epoch >= 0) {
    const uint64_t h = Seed3(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i) ^ 0x7f1b);
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform [0, 1)
    vtlp_->Apply(1.0 + opts_.vtlp_max_warp * (2 * u - 1), &feats);
  }
  if (noise_ && epoch >= 0) {
    std::mt19937_64 rng(
        Seed3(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i) ^ 0x6e6f697365ULL));
    noise_->Apply(&rng, &feats);
  }
  if (train_ && opts_.spec_augment && epoch >= 0) {
    std::mt19937_64 rng(Seed3(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i)));
    SpecAugment(opts_.spec_augment_options, &rng, &feats, mask_fill_.empty() ? nullptr : &mask_fill_);
  }
  return feats;
}

std::vector<std::vector<int64_t>> Dataset::EpochBatches(int64_t epoch) const {
  std::vector<int64_t> order(utts_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [this](int64_t a, int64_t b) {
    return utts_[static_cast<size_t>(a)].duration < utts_[static_cast<size_t>(b)].duration;
  });
  const double shift_s = features_.frame_opts().frame_shift_ms * 1e-3;
  double slowest = 1.0;
  if (train_) {
    for (double f : opts_.speed_factors) slowest = std::max(slowest, 1.0 / f);
  }
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t cur_max = 0;
  for (int64_t i : order) {
    const int64_t frames =
        static_cast<int64_t>(std::ceil(utts_[static_cast<size_t>(i)].duration * slowest / shift_s)) + 1;
    const int64_t new_max = std::max(cur_max, frames);
    if (!cur.empty() && (new_max * static_cast<int64_t>(cur.size() + 1) > opts_.max_batch_frames ||
                         static_cast<int64_t>(cur.size()) >= opts_.max_batch_utterances)) {
      batches.push_back(std::move(cur));
      cur.clear();
      cur_max = 0;
    }
    cur.push_back(i);
    cur_max = std::max(cur_max, frames);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  if (train_ && !(opts_.sortagrad && epoch == 0)) {
    std::mt19937_64 rng(Seed3(seed_, static_cast<uint64_t>(epoch), 0xba7c4));
    for (size_t k = batches.size(); k > 1; --k) std::swap(batches[k - 1], batches[rng() % k]);
  }
  return batches;
}

Batch Dataset::MakeBatch(const std::vector<int64_t>& indices, int64_t epoch, int64_t index) const {
  std::vector<std::pair<int64_t, Matrix>> loaded;
  for (int64_t i : indices) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bad_[static_cast<size_t>(i)]) continue;
    }
    auto f = LoadFeatures(i, epoch);
    if (!f.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!bad_[static_cast<size_t>(i)]) {
        bad_[static_cast<size_t>(i)] = true;
        failed_.fetch_add(1);
        problems_.push_back(
            absl::StrCat("skipped ", utts_[static_cast<size_t>(i)].audio_path, ": ", f.status().message()));
      }
      continue;
    }
    loaded.emplace_back(i, std::move(*f));
  }
  Batch b;
  b.index = index;
  const int64_t n = static_cast<int64_t>(loaded.size()), dim = features_.Dim();
  int64_t max_t = 0, max_s = 1;
  for (const auto& [i, m] : loaded) {
    max_t = std::max(max_t, m.rows);
    max_s = std::max<int64_t>(max_s, static_cast<int64_t>(targets_[static_cast<size_t>(i)].size()));
  }
  b.feats = torch::zeros({n, max_t, dim});
  b.feat_lengths = torch::empty({n}, torch::kInt64);
  b.targets = torch::zeros({n, max_s}, torch::kInt64);
  b.target_lengths = torch::empty({n}, torch::kInt64);
  float* fp = b.feats.data_ptr<float>();
  for (int64_t k = 0; k < n; ++k) {
    const auto& [i, m] = loaded[static_cast<size_t>(k)];
    std::memcpy(fp + k * max_t * dim, m.data.data(), m.data.size() * sizeof(float));
    b.feat_lengths[k] = m.rows;
    const std::vector<int64_t>& t = targets_[static_cast<size_t>(i)];
    std::memcpy(b.targets[k].data_ptr<int64_t>(), t.data(), t.size() * sizeof(int64_t));
    b.target_lengths[k] = static_cast<int64_t>(t.size());
    b.utterances.push_back(i);
    b.frames += m.rows;
    b.audio_seconds += static_cast<double>(m.rows) * features_.frame_opts().frame_shift_ms * 1e-3;
  }
  return b;
}

int64_t Dataset::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_bytes_;
}

std::vector<std::string> Dataset::TakeProblems() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.swap(problems_);
  return out;
}

std::vector<int64_t> EvenGroups(int64_t rows, int64_t groups) {
  std::vector<int64_t> out;
  for (int64_t g = 0; g < groups; ++g) out.push_back((g + 1) * rows / groups - g * rows / groups);
  return out;
}

BatchLoader::BatchLoader(const Dataset& data, int64_t epoch, int64_t first, int threads, int prefetch,
                         int shard, int shards, int groups)
    : data_(data),
      epoch_(epoch),
      order_(data.EpochBatches(epoch)),
      prefetch_(static_cast<size_t>(std::max(1, prefetch))),
      next_to_claim_(static_cast<size_t>(std::max<int64_t>(0, first))),
      next_to_hand_out_(next_to_claim_) {
  if (groups > 0) {
    const size_t g0 = static_cast<size_t>(shard * groups / shards),
                 g1 = static_cast<size_t>((shard + 1) * groups / shards);
    for (std::vector<int64_t>& batch : order_) {
      const std::vector<int64_t> all = EvenGroups(static_cast<int64_t>(batch.size()), groups);
      std::vector<int64_t> sizes(all.begin() + static_cast<std::ptrdiff_t>(g0),
                                 all.begin() + static_cast<std::ptrdiff_t>(g1));
      const int64_t begin =
          std::accumulate(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(g0), int64_t{0});
      const int64_t end = begin + std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
      batch = std::vector<int64_t>(batch.begin() + begin, batch.begin() + end);
      group_sizes_.push_back(std::move(sizes));
    }
  }
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Work(); });
}

Batch BatchLoader::Load(size_t k) const {
  Batch b = data_.MakeBatch(order_[k], epoch_, static_cast<int64_t>(k));
  if (group_sizes_.empty()) return b;
  // Loaded rows keep their planned order: walk both.
  size_t planned = 0, loaded = 0;
  for (int64_t size : group_sizes_[k]) {
    int64_t rows = 0;
    for (int64_t i = 0; i < size; ++i, ++planned) {
      if (loaded < b.utterances.size() && b.utterances[loaded] == order_[k][planned]) ++rows, ++loaded;
    }
    b.group_rows.push_back(rows);
  }
  return b;
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void BatchLoader::Work() {
  while (true) {
    size_t k;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] {
        return stop_ || next_to_claim_ >= order_.size() || next_to_claim_ < next_to_hand_out_ + prefetch_;
      });
      if (stop_ || next_to_claim_ >= order_.size()) return;
      k = next_to_claim_++;
    }
    Batch b = Load(k);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(k, std::move(b));
    }
    cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (next_to_hand_out_ >= order_.size()) return std::nullopt;
  if (threads_.empty()) {  // synchronous mode
    const size_t k = next_to_hand_out_++;
    next_to_claim_ = next_to_hand_out_;
    lock.unlock();
    return Load(k);
  }
  cv_.wait(lock, [this] { return ready_.count(next_to_hand_out_) > 0; });
  auto node = ready_.extract(next_to_hand_out_);
  ++next_to_hand_out_;
  lock.unlock();
  cv_.notify_all();
  return std::move(node.mapped());
}

void ErrorCounts::Add(const std::string& reference, const std::string& hypothesis) {
  char_edits += EditDistance(Chars(reference), Chars(hypothesis));
  chars += static_cast<int64_t>(reference.size());
  const std::vector<std::string> rw = Words(reference);
  word_edits += EditDistance(rw, Words(hypothesis));
  words += static_cast<int64_t>(rw.size());
}

}  // namespace asr
