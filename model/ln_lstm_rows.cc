#include "model/ln_lstm_rows.h"

#include <cstdlib>
#include <cstring>

namespace asr {

// Each ln_lstm_rows_<isa>.cc defines asr::<isa>::Table<T>() for float and double.
namespace generic {
template <typename T>
const RowKernels<T>& Table();
}
#if ASR_ROW_KERNELS_X86
namespace avx2 {
template <typename T>
const RowKernels<T>& Table();
}
namespace avx512 {
template <typename T>
const RowKernels<T>& Table();
}
#endif

namespace {

bool CpuHasAvx2() {
#if ASR_ROW_KERNELS_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool CpuHasAvx512() {
#if ASR_ROW_KERNELS_X86
  __builtin_cpu_init();
  return CpuHasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

template <typename T>
const RowKernels<T>& Select() {
#if ASR_ROW_KERNELS_X86
  const char* forced = std::getenv("ASR_ROW_KERNELS");
  const bool any = forced == nullptr || forced[0] == '\0';
  if ((any || std::strcmp(forced, "avx512") == 0) && CpuHasAvx512()) return avx512::Table<T>();
  if ((any || std::strcmp(forced, "avx2") == 0) && CpuHasAvx2()) return avx2::Table<T>();
#endif
  return generic::Table<T>();
}

}  // namespace

template <typename T>
const RowKernels<T>& RowKernelsFor() {
  static const RowKernels<T>& selected = Select<T>();
  return selected;
}

template <typename T>
int AvailableRowKernels(const RowKernels<T>** out, int capacity) {
  int n = 0;
  auto add = [&](const RowKernels<T>& k) {
    if (n < capacity) out[n++] = &k;
  };
  add(generic::Table<T>());
#if ASR_ROW_KERNELS_X86
  if (CpuHasAvx2()) add(avx2::Table<T>());
  if (CpuHasAvx512()) add(avx512::Table<T>());
#endif
  return n;
}

template const RowKernels<float>& RowKernelsFor<float>();
template const RowKernels<double>& RowKernelsFor<double>();
template int AvailableRowKernels<float>(const RowKernels<float>**, int);
template int AvailableRowKernels<double>(const RowKernels<double>**, int);

}  // namespace asr
