// LN-LSTM speed against torch::nn::LSTM (no LN) of the same sizes, in the
// same run: batch 32, 100 frames, input 80, hidden 320, 3 layers, float32,
// CPU, forward + backward, at 1 and 2 threads (LibTorch + BLAS, set with
// SetComputeThreads); plus one streaming step at batch 1, 16, 128.
// BM_LnLstmFwdBwdDefaultShape: one data-parallel replica's share of a
// default-config training batch (16 rows, 42 steps, input 480, hidden 192,
// 3 layers, 1 thread). BM_RowKernels: the fused per-row work alone (one
// forward and one backward step of 16 rows, hidden 192) for each
// instruction-set variant the CPU runs; /0 is the generic x86-64 baseline.
// After the runs it prints the ratio LN-LSTM / nn.LSTM per thread count.
// Built against a CUDA LibTorch, the _CUDA cases compare the fused CUDA
// LN-LSTM with cuDNN's LSTM (torch::nn::LSTM, no LN): 500 frames, input 80,
// 3 layers, batch 16/64/256, hidden 320/1024, fp32/bf16 (args: batch,
// hidden, 0 = fp32 / 1 = bf16), and the streaming step at 1/64/1024 streams.
//   build/bin/asr_bench_lstm [--benchmark_repetitions=3] [--benchmark_filter=_CUDA]
#include <benchmark/benchmark.h>
#include <torch/nn/modules/rnn.h>

#include <cstdio>
#include <map>
#ifdef ASR_CUDA_ADAPTER
#include <torch/cuda.h>
#endif

#include "model/compute_threads.h"
#include "model/ln_lstm.h"
#include "model/ln_lstm_rows.h"

namespace {

constexpr int64_t kBatch = 32, kSteps = 100, kInput = 80, kHidden = 320, kLayers = 3;

void BM_LnLstmFwdBwd(benchmark::State& state) {
  asr::SetComputeThreads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  asr::LayerNormLstm lstm(asr::LayerNormLstmOptions(kInput, kHidden).num_layers(kLayers));
  const torch::Tensor x = torch::randn({kSteps, kBatch, kInput});
  for (auto _ : state) {
    lstm->zero_grad();
    lstm->forward(x).output.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * kBatch * kSteps);
}
BENCHMARK(BM_LnLstmFwdBwd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_TorchLstmFwdBwd(benchmark::State& state) {
  asr::SetComputeThreads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(kInput, kHidden).num_layers(kLayers));
  const torch::Tensor x = torch::randn({kSteps, kBatch, kInput});
  for (auto _ : state) {
    lstm->zero_grad();
    std::get<0>(lstm->forward(x)).sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * kBatch * kSteps);
}
BENCHMARK(BM_TorchLstmFwdBwd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LnLstmStep(benchmark::State& state) {
  asr::SetComputeThreads(1);
  torch::manual_seed(0);
  asr::LayerNormLstm lstm(asr::LayerNormLstmOptions(kInput, kHidden).num_layers(kLayers));
  const int64_t batch = state.range(0);
  const torch::Tensor x = torch::randn({batch, kInput});
  asr::LstmState s = lstm->ZeroState(batch);
  for (auto _ : state) {
    auto r = lstm->Step(x, s);
    s = r.second;
    benchmark::DoNotOptimize(r.first.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_LnLstmStep)->Arg(1)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_LnLstmFwdBwdDefaultShape(benchmark::State& state) {
  asr::SetComputeThreads(1);
  torch::manual_seed(0);
  asr::LayerNormLstm lstm(asr::LayerNormLstmOptions(480, 192).num_layers(3));
  const int64_t batch = 16, steps = 42;
  const torch::Tensor x = torch::randn({steps, batch, 480});
  for (auto _ : state) {
    lstm->zero_grad();
    lstm->forward(x).output.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * batch * steps);
}
BENCHMARK(BM_LnLstmFwdBwdDefaultShape)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RowKernels(benchmark::State& state) {
  const asr::RowKernels<float>* variants[4];
  const int n = asr::AvailableRowKernels(variants, 4);
  if (state.range(0) >= n) {
    state.SkipWithError("instruction set not supported by this CPU");
    return;
  }
  const asr::RowKernels<float>& k = *variants[state.range(0)];
  state.SetLabel(k.isa);
  const int64_t b = 16, h = 192, g = 4 * h;
  torch::manual_seed(0);
  auto randn = [](int64_t n) { return torch::randn({n}); };
  const torch::Tensor gx = randn(g), gh = randn(g), bias = randn(g), gc = randn(h), bc = randn(h);
  const torch::Tensor xn = randn(b * g), ah = randn(b * g), c_prev = randn(b * h), dm = randn(b * h);
  torch::Tensor hn = torch::empty({b * g}), act = torch::empty({b * g}), c_next = torch::empty({b * h}),
                cn = torch::empty({b * h}), tc = torch::empty({b * h}), out = torch::empty({b * h}),
                rstd = torch::ones({3 * b}), dc = randn(b * h), dah = torch::empty({b * g}),
                dax = torch::empty({b * g}), acc_g = torch::zeros({b * 3 * g}),
                acc_c = torch::zeros({b * 2 * h}), scratch = torch::empty({g + 2 * h});
  float* r = rstd.data_ptr<float>();
  const asr::ForwardRowsArgs<float> fwd{
      asr::CellParams<float>{gx.data_ptr<float>(), gh.data_ptr<float>(), bias.data_ptr<float>(),
                             gc.data_ptr<float>(), bc.data_ptr<float>(), h, 1e-5},
      xn.data_ptr<float>(),
      ah.data_ptr<float>(),
      hn.data_ptr<float>(),
      r,
      c_prev.data_ptr<float>(),
      act.data_ptr<float>(),
      c_next.data_ptr<float>(),
      cn.data_ptr<float>(),
      r + b,
      tc.data_ptr<float>(),
      out.data_ptr<float>(),
      h};
  const asr::BackwardRowsArgs<float> bwd{h,
                                         gx.data_ptr<float>(),
                                         gh.data_ptr<float>(),
                                         gc.data_ptr<float>(),
                                         act.data_ptr<float>(),
                                         tc.data_ptr<float>(),
                                         cn.data_ptr<float>(),
                                         r + b,
                                         hn.data_ptr<float>(),
                                         r,
                                         xn.data_ptr<float>(),
                                         r + 2 * b,
                                         c_prev.data_ptr<float>(),
                                         dm.data_ptr<float>(),
                                         dc.data_ptr<float>(),
                                         dah.data_ptr<float>(),
                                         dax.data_ptr<float>(),
                                         acc_g.data_ptr<float>(),
                                         acc_c.data_ptr<float>()};
  for (auto _ : state) {
    k.forward_rows(fwd, 0, b);
    k.backward_rows(bwd, 0, b, scratch.data_ptr<float>());
    benchmark::DoNotOptimize(dax.data_ptr<float>());
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_RowKernels)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();

#ifdef ASR_CUDA_ADAPTER
constexpr int64_t kCudaSteps = 500;

torch::ScalarType CudaDtype(const benchmark::State& state) {
  return state.range(2) == 1 ? torch::kBFloat16 : torch::kFloat32;
}

void BM_LnLstmFwdBwd_CUDA(benchmark::State& state) {
  const int64_t batch = state.range(0), hidden = state.range(1);
  torch::manual_seed(0);
  asr::LayerNormLstm lstm(asr::LayerNormLstmOptions(kInput, hidden).num_layers(kLayers));
  lstm->to(torch::kCUDA);  // parameters fp32; activations in the input's dtype
  const torch::Tensor x = torch::randn({kCudaSteps, batch, kInput}).to(torch::kCUDA, CudaDtype(state));
  auto fwd_bwd = [&] {
    lstm->zero_grad();
    lstm->forward(x).output.to(torch::kFloat32).sum().backward();
    torch::cuda::synchronize();
  };
  fwd_bwd();  // untimed: captures this shape's CUDA graph, warms cuBLAS
  for (auto _ : state) fwd_bwd();
  state.SetItemsProcessed(state.iterations() * batch * kCudaSteps);
}

void BM_TorchLstmFwdBwd_CUDA(benchmark::State& state) {
  const int64_t batch = state.range(0), hidden = state.range(1);
  torch::manual_seed(0);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(kInput, hidden).num_layers(kLayers));
  lstm->to(torch::kCUDA, CudaDtype(state));  // cuDNN wants one dtype throughout
  const torch::Tensor x = torch::randn({kCudaSteps, batch, kInput}).to(torch::kCUDA, CudaDtype(state));
  auto fwd_bwd = [&] {
    lstm->zero_grad();
    std::get<0>(lstm->forward(x)).to(torch::kFloat32).sum().backward();
    torch::cuda::synchronize();
  };
  fwd_bwd();  // untimed: cuDNN's plan and workspace
  for (auto _ : state) fwd_bwd();
  state.SetItemsProcessed(state.iterations() * batch * kCudaSteps);
}

void CudaSizes(benchmark::internal::Benchmark* b) {
  for (int64_t dtype : {0, 1}) {
    for (int64_t hidden : {320, 1024}) {
      for (int64_t batch : {16, 64, 256}) b->Args({batch, hidden, dtype});
    }
  }
}
BENCHMARK(BM_LnLstmFwdBwd_CUDA)->Apply(CudaSizes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TorchLstmFwdBwd_CUDA)->Apply(CudaSizes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LnLstmStep_CUDA(benchmark::State& state) {
  torch::manual_seed(0);
  asr::LayerNormLstm lstm(asr::LayerNormLstmOptions(kInput, kHidden).num_layers(kLayers));
  lstm->to(torch::kCUDA);
  const int64_t batch = state.range(0);
  const torch::Tensor x = torch::randn({batch, kInput}).to(torch::kCUDA);
  asr::LstmState s = lstm->ZeroState(batch);
  s = lstm->Step(x, s).second;  // untimed: graph capture
  for (auto _ : state) {
    auto r = lstm->Step(x, s);
    s = r.second;
    torch::cuda::synchronize();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_LnLstmStep_CUDA)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif  // ASR_CUDA_ADAPTER

// Records real time per run name so the ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Iteration || r.aggregate_name == "median") {
        times_[r.run_name.str()] = r.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatios() const {
    const std::string ln_cuda = "BM_LnLstmFwdBwd_CUDA/", ref_cuda = "BM_TorchLstmFwdBwd_CUDA/";
    for (const auto& [name, ms] : times_) {
      if (name.rfind(ln_cuda, 0) != 0) continue;
      const std::string args = name.substr(ln_cuda.size());  // "batch/hidden/dtype/real_time"
      const auto ref = times_.find(ref_cuda + args);
      if (ref == times_.end()) continue;
      int batch = 0, hidden = 0, dtype = 0;
      std::sscanf(args.c_str(), "%d/%d/%d", &batch, &hidden, &dtype);
      std::printf(
          "{\"device\": \"cuda\", \"batch\": %d, \"hidden\": %d, \"dtype\": \"%s\", \"ln_lstm_ms\": %.2f, "
          "\"cudnn_lstm_ms\": %.2f, \"ratio\": %.3f}\n",
          batch, hidden, dtype == 1 ? "bf16" : "fp32", ms, ref->second, ms / ref->second);
    }
    for (const char* threads : {"1", "2"}) {
      const auto ln = times_.find(std::string("BM_LnLstmFwdBwd/") + threads + "/real_time");
      const auto ref = times_.find(std::string("BM_TorchLstmFwdBwd/") + threads + "/real_time");
      if (ln != times_.end() && ref != times_.end()) {
        std::printf("{\"threads\": %s, \"ln_lstm_ms\": %.1f, \"torch_lstm_ms\": %.1f, \"ratio\": %.3f}\n",
                    threads, ln->second, ref->second, ln->second / ref->second);
      }
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  asr::ConfigureAllocatorForTraining();  // as asr-train and asr-server do
  benchmark::Initialize(&argc, argv);
  const std::string blas = asr::BlasCoreName();
  benchmark::AddCustomContext("blas_kernels", blas.empty() ? "not OpenBLAS" : "OpenBLAS " + blas);
  benchmark::AddCustomContext("row_kernels", asr::RowKernelsFor<float>().isa);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
