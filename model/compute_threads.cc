#include "model/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "model/ln_lstm_rows.h"

namespace asr {
namespace {

// OpenBLAS entry points, looked up at run time: LibTorch links libblas.so.3,
// which is OpenBLAS only when Debian's alternative points there.
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();

SetThreadsFn BlasSetThreads() {
  return reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}
GetThreadsFn BlasGetThreads() {
  return reinterpret_cast<GetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
}

}  // namespace

int ResolveComputeThreads(int requested) {
  if (requested > 0) return requested;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / 2);
}

void SetComputeThreads(int threads) {
  threads = std::max(1, threads);
  at::set_num_threads(threads);
  try {
    at::set_num_interop_threads(1);
  } catch (const std::exception&) {
    // Already started (inter-op pool can be sized only once); keep it.
  }
  if (SetThreadsFn set = BlasSetThreads()) set(threads);
}

void ConfigureAllocatorForTraining() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int BlasThreads() {
  GetThreadsFn get = BlasGetThreads();
  return get ? get() : -1;
}

std::string BlasCoreName() {
  using CoreNameFn = char* (*)();
  auto name = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return name ? std::string(name()) : std::string();
}

std::string ComputeKernelsSummary() {
  const std::string core = BlasCoreName();
  std::string out = core.empty() ? "non-OpenBLAS GEMMs" : "OpenBLAS " + core + " GEMMs";
  out += std::string(", ") + RowKernelsFor<float>().isa + " LN-LSTM row kernels";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  if (!core.empty() && forced != nullptr && forced[0] != '\0') {
    out += std::string(" (OPENBLAS_CORETYPE=") + forced + " from the environment)";
  }
  return out;
}

int TorchThreads() { return at::get_num_threads(); }

}  // namespace asr
