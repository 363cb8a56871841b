// Feature extraction speed: 60 s of 16 kHz audio to 80-bin log fbank (project
// defaults), single thread. Counter x_realtime = audio seconds per compute
// second. BM_FbankBatch: one call on the whole signal. BM_FbankStream10ms:
// the same samples fed in 160-sample chunks, frames consumed as they come.
// BM_StreamDecode/{linear16,flac,opus}: the same 60 s as a streamed client
// sends them, in 16 KiB messages, decoded to mono float as they arrive
// (features/compressed_stream.h for FLAC and Ogg/Opus, both encoded here by
// libsndfile at 16 kHz).
//   build/bin/asr_bench_features --benchmark_format=json
#include <benchmark/benchmark.h>
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "features/audio.h"
#include "features/compressed_stream.h"
#include "features/online_features.h"

namespace {

constexpr int kRate = 16000;
constexpr int kSeconds = 60;

// Speech-like test signal: harmonics with a wandering pitch plus noise,
// in int16 range.
const std::vector<float>& Signal() {
  static const std::vector<float> signal = [] {
    std::vector<float> s(static_cast<size_t>(kRate * kSeconds));
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.f, 300.f);
    double phase = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const double f0 = 120 + 40 * std::sin(2 * M_PI * 0.5 * i / kRate);
      phase += 2 * M_PI * f0 / kRate;
      double v = 0;
      for (int h = 1; h <= 10; ++h) v += std::sin(h * phase) / h;
      s[i] = static_cast<float>(6000 * v) + noise(rng);
    }
    return s;
  }();
  return signal;
}

void BM_FbankBatch(benchmark::State& state) {
  const std::vector<float>& s = Signal();
  asr::FeatureOptions opts;
  int64_t frames = 0;
  for (auto _ : state) {
    auto m = asr::ComputeFeatures(opts, s.data(), s.size());
    frames = m->rows;
    benchmark::DoNotOptimize(m->data.data());
  }
  state.counters["frames"] = static_cast<double>(frames);
  state.counters["x_realtime"] =
      benchmark::Counter(static_cast<double>(kSeconds) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FbankBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FbankStream10ms(benchmark::State& state) {
  const std::vector<float>& s = Signal();
  asr::FeatureOptions opts;
  constexpr size_t kChunk = 160;
  float sink = 0.f;
  for (auto _ : state) {
    auto ex = asr::OnlineFeatureExtractor::Create(opts);
    asr::OnlineFeatureExtractor& e = **ex;
    int64_t consumed = 0;
    for (size_t i = 0; i < s.size(); i += kChunk) {
      e.AcceptWaveform(s.data() + i, std::min(kChunk, s.size() - i));
      for (; consumed < e.NumFramesReady(); ++consumed) sink += e.Frame(consumed)[0];
      e.DiscardFramesBefore(consumed);
    }
    e.InputFinished();
    for (; consumed < e.NumFramesReady(); ++consumed) sink += e.Frame(consumed)[0];
  }
  benchmark::DoNotOptimize(sink);
  state.counters["x_realtime"] =
      benchmark::Counter(static_cast<double>(kSeconds) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FbankStream10ms)->Unit(benchmark::kMillisecond)->UseRealTime();

// Signal() as the bytes of a file libsndfile writes in `format`.
std::string EncodedSignal(int format) {
  char path[] = "/tmp/asr-bench-XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  SF_INFO info{};
  info.channels = 1;
  info.samplerate = kRate;
  info.format = format;
  SNDFILE* f = sf_open(path, SFM_WRITE, &info);
  std::vector<float> x = Signal();
  for (float& v : x) v /= 32768.f;
  sf_writef_float(f, x.data(), static_cast<sf_count_t>(x.size()));
  sf_close(f);
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::remove(path);
  return bytes.str();
}

void BM_StreamDecode(benchmark::State& state) {
  constexpr size_t kMessage = 16384;
  const int codec = static_cast<int>(state.range(0));  // 0 LINEAR16, 1 FLAC, 2 Ogg/Opus
  std::string bytes;
  if (codec == 0) {
    for (float v : Signal()) {
      const int16_t s = static_cast<int16_t>(std::lrint(std::clamp(v, -32768.f, 32767.f)));
      bytes.append(reinterpret_cast<const char*>(&s), 2);
    }
  } else {
    bytes = EncodedSignal(codec == 1 ? SF_FORMAT_FLAC | SF_FORMAT_PCM_16 : SF_FORMAT_OGG | SF_FORMAT_OPUS);
  }
  size_t samples = 0;
  for (auto _ : state) {
    std::vector<float> mono;
    samples = 0;
    if (codec == 0) {
      for (size_t off = 0; off < bytes.size(); off += kMessage) {
        auto a = asr::DecodeRawPcm(bytes.data() + off, std::min(kMessage, bytes.size() - off),
                                   {asr::RawEncoding::kS16le, kRate, 1}, "bench");
        samples += a->samples.size();
      }
    } else {
      auto d = asr::CompressedStreamDecoder::Create(
          codec == 1 ? asr::CompressedCodec::kFlac : asr::CompressedCodec::kOggOpus, "bench", 3600, kRate);
      for (size_t off = 0; off < bytes.size(); off += kMessage) {
        mono.clear();
        (void)(*d)->Accept(bytes.data() + off, std::min(kMessage, bytes.size() - off), &mono);
        samples += mono.size();
      }
      mono.clear();
      (void)(*d)->Finish(&mono);
      samples += mono.size();
    }
  }
  state.SetLabel(codec == 0 ? "linear16" : codec == 1 ? "flac" : "opus");
  state.counters["audio_s"] = static_cast<double>(samples) / kRate;
  state.counters["x_realtime"] =
      benchmark::Counter(static_cast<double>(kSeconds) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StreamDecode)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
