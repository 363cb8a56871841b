// Training and evaluation data: manifests (NeMo JSONL, Kaldi wav.scp +
// text), utterance loading (decode any format features/ reads, resample,
// features, speed perturbation and SpecAugment on train only), an
// optional in-memory feature cache, length-bucketed batches with a frame
// cap, and background loader threads. A missing, unreadable or empty entry
// is reported with its path, counted and skipped; it never aborts a run.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "features/online_features.h"
#include "model/training/noise_augment.h"
#include "model/training/spec_augment.h"
#include "model/training/vtlp.h"
#include "model/vocabulary.h"
#include "nlohmann/json.hpp"

namespace asr {

struct Utterance {
  std::string id;          // manifest line number or Kaldi utterance id
  std::string audio_path;  // absolute, or relative to the working directory
  double duration = 0;     // seconds (from the manifest or the file header)
  std::string text;        // transcript as given
};

// Problems found while reading a manifest or loading its audio.
struct DataReport {
  int64_t entries = 0;                // lines / utterances seen
  int64_t skipped = 0;                // entries rejected
  std::vector<std::string> problems;  // one line per skipped entry (first 100 kept)
  std::string outside_root;           // the first entry rejected for pointing outside confine_to
  void Add(const std::string& problem);
  void AddOutsideRoot(const std::string& problem);
};

// NeMo manifest: one JSON object per line with audio_filepath, duration,
// text. Relative paths resolve against the manifest's folder. Bad lines are
// reported and skipped; a missing or unreadable manifest is an error.
// With `confine_to` set, audio outside that directory is rejected before
// it is touched (the server confines datasets to its data root), and
// messages show paths relative to it, never the directory itself.
absl::StatusOr<std::vector<Utterance>> ReadNemoManifest(const std::string& path, DataReport* report,
                                                        const std::string& confine_to = "");
// Kaldi data directory with wav.scp ("utt path") and text ("utt words...").
// Durations come from the audio headers. Piped wav.scp entries are skipped.
absl::StatusOr<std::vector<Utterance>> ReadKaldiDir(const std::string& dir, DataReport* report,
                                                    const std::string& confine_to = "");
// A .jsonl file, or a directory holding wav.scp and text.
absl::StatusOr<std::vector<Utterance>> ReadDataset(const std::string& path, DataReport* report,
                                                   const std::string& confine_to = "");

struct DataOptions {
  int max_batch_frames = 24000;  // feature frames per batch, padding included
  int max_batch_utterances = 64;
  double max_utterance_seconds = 30;                    // longer entries are skipped
  std::vector<double> speed_factors = {0.9, 1.0, 1.1};  // train only; {1} = off
  bool spec_augment = true;                             // train only
  SpecAugmentOptions spec_augment_options;              // default: LD policy without time warp, see Default()
  // Train only, fbank only: vocal tract length perturbation with a warp
  // factor drawn per utterance and epoch uniformly from [1 - w, 1 + w]
  // (vtlp.h); 0 = off, 0.1 = Jaitly & Hinton's 0.9..1.1.
  double vtlp_max_warp = 0;
  // Train only, fbank only: additive noise and reverberation simulated on
  // the features, drawn per utterance and epoch (noise_augment.h);
  // off by default.
  NoiseAugmentOptions noise_augment;
  bool cache_features = true;  // keep computed (pre-SpecAugment) features in memory
  int cache_max_megabytes = 4096;
  bool sortagrad = true;   // first epoch in ascending length (Amodei et al. 2016), later shuffled
  int loader_threads = 1;  // background threads preparing batches
  int prefetch_batches = 4;

  static DataOptions Default();
  absl::Status Validate() const;

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v({"max_batch_frames", "feature frames per batch, padding included"}, s.max_batch_frames);
    v({"max_batch_utterances", "utterances per batch"}, s.max_batch_utterances);
    v({"max_utterance_seconds", "longer entries are skipped"}, s.max_utterance_seconds);
    v({"speed_factors", "speed perturbation factors, train only; [1] = off"}, s.speed_factors);
    v({"spec_augment", "SpecAugment on train"}, s.spec_augment);
    v({"spec_augment_options", "SpecAugment's policy: the fields, or a preset name (LB, LD, SM, SS)"},
      s.spec_augment_options);
    v({"cache_features", "keep computed (pre-augmentation) features in memory"}, s.cache_features);
    v({"cache_max_megabytes", "feature cache size, MiB"}, s.cache_max_megabytes);
    v({"sortagrad", "first epoch shortest first, later shuffled"}, s.sortagrad);
    v({"loader_threads", "background threads preparing batches"}, s.loader_threads);
    v({"prefetch_batches", "batches prepared ahead"}, s.prefetch_batches);
    v({"vtlp_max_warp", "0 = off; 0.1: per-utterance warp factor in [0.9, 1.1] (fbank only)"},
      s.vtlp_max_warp);
    v({"noise_augment", "noise and reverberation on the features (fbank only); off by default"},
      s.noise_augment);
  }
};

struct Batch {
  torch::Tensor feats;              // [B, T, F] float32 raw features (CMVN is in the model)
  torch::Tensor feat_lengths;       // [B] int64
  torch::Tensor targets;            // [B, S] int64, padded with 0
  torch::Tensor target_lengths;     // [B] int64
  std::vector<int64_t> utterances;  // dataset indices, in batch order
  int64_t frames = 0;               // sum of feat_lengths
  double audio_seconds = 0;         // sum of (perturbed) durations
  int64_t index = 0;                // position in the epoch's batch order
  // Loaded rows per gradient group (data_parallel.h), in row order, when
  // the loader groups rows (BatchLoader); empty: not grouped.
  std::vector<int64_t> group_rows;
  int64_t size() const { return static_cast<int64_t>(utterances.size()); }
};

// Thread-safe: LoadFeatures and MakeBatch may run on several threads.
class Dataset {
 public:
  // `train` enables speed perturbation, VTLP, noise augmentation and SpecAugment. Entries longer than
  // max_utterance_seconds or whose text has no vocabulary symbol are
  // dropped here and reported.
  Dataset(std::vector<Utterance> utterances, const FeatureOptions& features, const Vocabulary& vocab,
          const DataOptions& options, bool train, uint64_t seed, DataReport* report);

  int64_t size() const { return static_cast<int64_t>(utts_.size()); }
  const Utterance& utterance(int64_t i) const { return utts_[static_cast<size_t>(i)]; }
  double total_seconds() const;

  // Features of utterance i for `epoch` (augmentation depends on seed,
  // epoch and i only; epoch < 0 = no augmentation), [frames, dim].
  // Errors name the audio file.
  absl::StatusOr<Matrix> LoadFeatures(int64_t i, int64_t epoch) const;
  // Values SpecAugment writes into masked cells, per feature dimension
  // (the CMVN mean, so masks are neutral after normalization). Call before
  // loading starts.
  void SetMaskFill(std::vector<float> fill) { mask_fill_ = std::move(fill); }
  const std::vector<int64_t>& targets(int64_t i) const { return targets_[static_cast<size_t>(i)]; }
  // The batches of an epoch: utterances sorted by duration, cut into
  // batches under the frame and utterance caps, batch order shuffled with
  // (seed, epoch) for training (except epoch 0 with sortagrad: shortest
  // first). Deterministic.
  std::vector<std::vector<int64_t>> EpochBatches(int64_t epoch) const;
  // Loads and pads a batch; entries that fail to load are reported,
  // counted, remembered (not retried) and left out.
  Batch MakeBatch(const std::vector<int64_t>& indices, int64_t epoch, int64_t index) const;

  int64_t failed() const { return failed_.load(); }
  // Bytes of features held by the cache (data.cache_features). Thread-safe.
  int64_t cached_bytes() const;
  // Lines describing load failures so far.
  std::vector<std::string> TakeProblems() const;

 private:
  double SpeedFactor(int64_t i, int64_t epoch) const;

  std::vector<Utterance> utts_;
  std::vector<std::vector<int64_t>> targets_;
  FeatureOptions features_;
  std::optional<VtlpWarper> vtlp_;       // set iff training with vtlp_max_warp > 0 on fbank features
  std::optional<NoiseAugmenter> noise_;  // set iff training with noise_augment enabled on fbank features
  Vocabulary vocab_;
  DataOptions opts_;
  bool train_;
  uint64_t seed_;
  std::vector<float> mask_fill_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<int64_t, int>, Matrix>
      cache_;                                  // (index, speed * 100) -> features; guarded by mu_
  mutable int64_t cache_bytes_ = 0;            // guarded by mu_
  mutable std::vector<bool> bad_;              // guarded by mu_
  mutable std::vector<std::string> problems_;  // guarded by mu_
  mutable std::atomic<int64_t> failed_{0};
};

// Near-equal contiguous group sizes: `groups` counts summing to `rows`
// (group g holds rows [g·rows/groups, (g+1)·rows/groups)).
std::vector<int64_t> EvenGroups(int64_t rows, int64_t groups);

// Prepares the batches of one epoch on background threads and hands them
// out in order. Stops its threads on destruction.
class BatchLoader {
 public:
  // Starts at batch `first` of the epoch's order (for resume). With
  // `groups` > 0, every batch's n planned utterances are cut into that
  // many gradient groups (group g: rows [g·n/groups, (g+1)·n/groups)), of
  // which this process (`shard` of `shards`, shards <= groups) keeps groups
  // [shard·groups/shards, (shard+1)·groups/shards): possibly no rows; each
  // Batch then says how many of its rows loaded per group (group_rows).
  BatchLoader(const Dataset& data, int64_t epoch, int64_t first, int threads, int prefetch, int shard = 0,
              int shards = 1, int groups = 0);
  ~BatchLoader();
  // The next batch in epoch order, or nullopt at the end of the epoch.
  std::optional<Batch> Next();
  int64_t num_batches() const { return static_cast<int64_t>(order_.size()); }

 private:
  void Work();
  // Batch k of order_, with group_rows when grouping.
  Batch Load(size_t k) const;

  const Dataset& data_;
  const int64_t epoch_;
  std::vector<std::vector<int64_t>> order_;  // this shard's planned rows of each batch
  std::vector<std::vector<int64_t>>
      group_sizes_;  // planned rows per kept group, per batch (empty: no groups)
  const size_t prefetch_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_to_claim_;           // guarded by mu_
  size_t next_to_hand_out_;        // guarded by mu_
  std::map<size_t, Batch> ready_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::vector<std::thread> threads_;
};

// Character and word error counts of a hypothesis against a reference.
struct ErrorCounts {
  int64_t char_edits = 0, chars = 0, word_edits = 0, words = 0;
  void Add(const std::string& reference, const std::string& hypothesis);
  double cer() const { return chars ? static_cast<double>(char_edits) / chars : 0.0; }
  double wer() const { return words ? static_cast<double>(word_edits) / words : 0.0; }
};

}  // namespace asr
