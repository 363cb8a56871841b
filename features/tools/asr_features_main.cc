// asr-features: audio file -> Kaldi-compatible fbank/MFCC features as a
// float32 .npy [frames, dim]. Every extraction option is a flag with
// Kaldi's name; --stream-chunk computes through the streaming path.
// Exit codes: 0 ok, 1 bad input (one line naming the file and problem), 2 usage.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>

#include "CLI/CLI.hpp"
#include "features/npy.h"
#include "features/pipeline.h"

namespace {

struct Flags {
  std::string input, output, type = "fbank", raw_format, cmvn;
  int raw_rate = 0, raw_channels = 1, channel = -1, sample_rate = 16000;
  int64_t stream_chunk = 0;
  double max_seconds = 3600;
  bool print_options = false;
  std::optional<float> frame_shift, frame_length, dither, preemph, blackman_coeff, low_freq, high_freq,
      energy_floor, cepstral_lifter;
  std::optional<bool> remove_dc, round_pow2, snip_edges, use_energy, raw_energy, htk_compat, use_log_fbank,
      use_power;
  std::optional<int> num_mel_bins, num_ceps;
  std::optional<uint32_t> dither_seed;
  std::optional<std::string> window_type;
};

template <class T>
void Set(const std::optional<T>& v, T* field) {
  if (v) *field = *v;
}

// Applies the flags to the options of the chosen feature type.
bool BuildOptions(const Flags& f, asr::FeatureOptions* o, std::string* error) {
  o->type = f.type == "mfcc" ? asr::FeatureType::kMfcc : asr::FeatureType::kFbank;
  asr::FrameExtractionOptions& fo = o->mutable_frame_opts();
  fo.samp_freq = static_cast<float>(f.sample_rate);
  Set(f.frame_shift, &fo.frame_shift_ms);
  Set(f.frame_length, &fo.frame_length_ms);
  Set(f.dither, &fo.dither);
  Set(f.dither_seed, &fo.dither_seed);
  Set(f.preemph, &fo.preemph_coeff);
  Set(f.remove_dc, &fo.remove_dc_offset);
  Set(f.round_pow2, &fo.round_to_power_of_two);
  Set(f.blackman_coeff, &fo.blackman_coeff);
  Set(f.snip_edges, &fo.snip_edges);
  if (f.window_type && !asr::ParseWindowType(*f.window_type, &fo.window_type)) {
    *error = "--window-type: '" + *f.window_type + "' is not povey|hamming|hanning|rectangular|blackman|sine";
    return false;
  }
  asr::MelBanksOptions& mel = o->type == asr::FeatureType::kFbank ? o->fbank.mel_opts : o->mfcc.mel_opts;
  Set(f.num_mel_bins, &mel.num_bins);
  Set(f.low_freq, &mel.low_freq);
  Set(f.high_freq, &mel.high_freq);
  if (o->type == asr::FeatureType::kFbank) {
    Set(f.use_energy, &o->fbank.use_energy);
    Set(f.energy_floor, &o->fbank.energy_floor);
    Set(f.raw_energy, &o->fbank.raw_energy);
    Set(f.htk_compat, &o->fbank.htk_compat);
    Set(f.use_log_fbank, &o->fbank.use_log_fbank);
    Set(f.use_power, &o->fbank.use_power);
  } else {
    Set(f.use_energy, &o->mfcc.use_energy);
    Set(f.energy_floor, &o->mfcc.energy_floor);
    Set(f.raw_energy, &o->mfcc.raw_energy);
    Set(f.htk_compat, &o->mfcc.htk_compat);
    Set(f.num_ceps, &o->mfcc.num_ceps);
    Set(f.cepstral_lifter, &o->mfcc.cepstral_lifter);
  }
  return true;
}

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("--input", f.input, "audio file (WAV/FLAC/OGG/Opus/...; raw PCM with --raw-format)")
      ->required();
  app.add_option("--output", f.output, "output .npy, float32 [frames, dim]");
  app.add_option("--type", f.type, "fbank|mfcc")
      ->check(CLI::IsMember({"fbank", "mfcc"}))
      ->capture_default_str();
  app.add_option("--sample-rate,--sample-frequency", f.sample_rate,
                 "feature sample rate, Hz (audio is resampled)")
      ->capture_default_str();
  app.add_option("--raw-format", f.raw_format, "headerless input: s16le|f32le")
      ->check(CLI::IsMember({"s16le", "f32le"}));
  app.add_option("--raw-rate", f.raw_rate, "sample rate of raw input, Hz");
  app.add_option("--raw-channels", f.raw_channels, "interleaved channels of raw input")
      ->capture_default_str();
  app.add_option("--channel", f.channel, "channel to keep; -1 averages all")->capture_default_str();
  app.add_option("--max-seconds", f.max_seconds, "reject longer audio")->capture_default_str();
  app.add_option("--stream-chunk", f.stream_chunk,
                 "feed the streaming extractor chunks of this many input samples");
  app.add_option("--cmvn", f.cmvn, "apply global CMVN statistics from this JSON file");
  app.add_flag("--print-options", f.print_options, "print the effective options and exit unless --output");
  app.add_option("--frame-shift", f.frame_shift, "ms (10)");
  app.add_option("--frame-length", f.frame_length, "ms (25)");
  app.add_option("--dither", f.dither, "Gaussian dither, int16 units (0)");
  app.add_option("--dither-seed", f.dither_seed, "seed of the dither noise (0)");
  app.add_option("--preemphasis-coefficient", f.preemph, "(0.97)");
  app.add_option("--remove-dc-offset", f.remove_dc, "true|false (true)");
  app.add_option("--window-type", f.window_type, "povey|hamming|hanning|rectangular|blackman|sine (povey)");
  app.add_option("--round-to-power-of-two", f.round_pow2, "true|false (true)");
  app.add_option("--blackman-coeff", f.blackman_coeff, "(0.42)");
  app.add_option("--snip-edges", f.snip_edges, "true|false (false)");
  app.add_option("--num-mel-bins", f.num_mel_bins, "(fbank 80, mfcc 23)");
  app.add_option("--low-freq", f.low_freq, "Hz (20)");
  app.add_option("--high-freq", f.high_freq, "Hz; <= 0 is an offset from Nyquist (0)");
  app.add_option("--use-energy", f.use_energy, "true|false (fbank false, mfcc true)");
  app.add_option("--energy-floor", f.energy_floor, "(0)");
  app.add_option("--raw-energy", f.raw_energy, "true|false (true)");
  app.add_option("--htk-compat", f.htk_compat, "true|false (false)");
  app.add_option("--use-log-fbank", f.use_log_fbank, "fbank: true|false (true)");
  app.add_option("--use-power", f.use_power, "fbank: true|false (true)");
  app.add_option("--num-ceps", f.num_ceps, "mfcc (13)");
  app.add_option("--cepstral-lifter", f.cepstral_lifter, "mfcc (22)");
}

absl::StatusOr<asr::Audio> LoadAudio(const Flags& f, const asr::DecodeOptions& dec) {
  if (f.raw_format.empty()) return asr::DecodeAudioFile(f.input, dec);
  std::ifstream in(f.input, std::ios::binary);
  if (!in) return absl::NotFoundError("'" + f.input + "': cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  asr::RawFormat raw;
  asr::ParseRawEncoding(f.raw_format, &raw.encoding);
  raw.sample_rate = f.raw_rate;
  raw.channels = f.raw_channels;
  return asr::DecodeRawPcm(bytes.data(), bytes.size(), raw, f.input, dec);
}

absl::StatusOr<asr::Matrix> Stream(const asr::Audio& audio, const asr::FeatureOptions& o,
                                   const asr::Cmvn* cmvn, int64_t chunk) {
  auto p = asr::StreamingFeaturePipeline::Create(audio.sample_rate, o, cmvn);
  if (!p.ok()) return p.status();
  const size_t n = audio.samples.size();
  for (size_t i = 0; i < n; i += static_cast<size_t>(chunk)) {
    const size_t len = std::min(static_cast<size_t>(chunk), n - i);
    if (absl::Status st = (*p)->AcceptAudio(audio.samples.data() + i, len); !st.ok()) return st;
  }
  if (absl::Status st = (*p)->InputFinished(); !st.ok()) return st;
  asr::Matrix m((*p)->NumFramesReady(), (*p)->Dim());
  for (int64_t r = 0; r < m.rows; ++r) {
    if (absl::Status st = (*p)->CopyFrame(r, m.row(r)); !st.ok()) return st;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"asr-features: audio -> Kaldi-compatible fbank/MFCC features (.npy)"};
  AddFlags(app, f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  asr::FeatureOptions opts;
  std::string error;
  if (!BuildOptions(f, &opts, &error)) {
    std::fprintf(stderr, "asr-features: %s\n", error.c_str());
    return 2;
  }
  if (absl::Status st = opts.Validate(); !st.ok()) {
    std::fprintf(stderr, "asr-features: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  if (f.print_options) std::printf("%s\n", opts.ToString().c_str());
  if (f.output.empty()) {
    if (f.print_options) return 0;
    std::fprintf(stderr, "asr-features: --output is required\n");
    return 2;
  }
  if (!f.raw_format.empty() && f.raw_rate <= 0) {
    std::fprintf(stderr, "asr-features: --raw-format needs --raw-rate\n");
    return 2;
  }
  asr::DecodeOptions dec;
  dec.channel = f.channel;
  dec.max_seconds = f.max_seconds;
  std::optional<asr::Cmvn> cmvn;
  if (!f.cmvn.empty()) {
    auto c = asr::Cmvn::Load(f.cmvn);
    if (!c.ok()) {
      std::fprintf(stderr, "asr-features: %s\n", std::string(c.status().message()).c_str());
      return 1;
    }
    cmvn = std::move(*c);
  }
  auto audio = LoadAudio(f, dec);
  if (!audio.ok()) {
    std::fprintf(stderr, "asr-features: %s\n", std::string(audio.status().message()).c_str());
    return 1;
  }
  const asr::Cmvn* cmvn_ptr = cmvn ? &*cmvn : nullptr;
  auto feats = f.stream_chunk > 0 ? Stream(*audio, opts, cmvn_ptr, f.stream_chunk)
                                  : asr::ExtractFeatures(*audio, opts, cmvn_ptr);
  if (!feats.ok()) {
    std::fprintf(stderr, "asr-features: %s\n", std::string(feats.status().message()).c_str());
    return 1;
  }
  if (absl::Status st = asr::WriteNpy(f.output, *feats); !st.ok()) {
    std::fprintf(stderr, "asr-features: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "asr-features: %s -> %s [%lld x %lld]\n", f.input.c_str(), f.output.c_str(),
               static_cast<long long>(feats->rows), static_cast<long long>(feats->cols));
  return 0;
}
