// Feature extraction speed: 60 s of 16 kHz audio to 80-bin log fbank (project
// defaults), single thread. Counter x_realtime = audio seconds per compute
// second. BM_FbankBatch: one call on the whole signal. BM_FbankStream10ms:
// the same samples fed in 160-sample chunks, frames consumed as they come.
//   build/bin/asr_bench_features --benchmark_format=json
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

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

}  // namespace

BENCHMARK_MAIN();
