#include "model/ln_lstm_rows.h"

#include <cstdlib>
#include <cstring>

namespace asr {

#define ASR_DECLARE_ROW_KERNELS(isa)                 \
  namespace isa {                                    \
  extern const RowKernels<float> kRowKernelsFloat;   \
  extern const RowKernels<double> kRowKernelsDouble; \
  }
ASR_DECLARE_ROW_KERNELS(generic)
#if ASR_ROW_KERNELS_X86
ASR_DECLARE_ROW_KERNELS(avx2)
ASR_DECLARE_ROW_KERNELS(avx512)
#endif
#undef ASR_DECLARE_ROW_KERNELS

namespace {

template <typename T>
struct Variants;
template <>
struct Variants<float> {
  static const RowKernels<float>& Generic() { return generic::kRowKernelsFloat; }
#if ASR_ROW_KERNELS_X86
  static const RowKernels<float>& Avx2() { return avx2::kRowKernelsFloat; }
  static const RowKernels<float>& Avx512() { return avx512::kRowKernelsFloat; }
#endif
};
template <>
struct Variants<double> {
  static const RowKernels<double>& Generic() { return generic::kRowKernelsDouble; }
#if ASR_ROW_KERNELS_X86
  static const RowKernels<double>& Avx2() { return avx2::kRowKernelsDouble; }
  static const RowKernels<double>& Avx512() { return avx512::kRowKernelsDouble; }
#endif
};

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
  if ((any || std::strcmp(forced, "avx512") == 0) && CpuHasAvx512()) return Variants<T>::Avx512();
  if ((any || std::strcmp(forced, "avx2") == 0) && CpuHasAvx2()) return Variants<T>::Avx2();
#endif
  return Variants<T>::Generic();
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
  add(Variants<T>::Generic());
#if ASR_ROW_KERNELS_X86
  if (CpuHasAvx2()) add(Variants<T>::Avx2());
  if (CpuHasAvx512()) add(Variants<T>::Avx512());
#endif
  return n;
}

template const RowKernels<float>& RowKernelsFor<float>();
template const RowKernels<double>& RowKernelsFor<double>();
template int AvailableRowKernels<float>(const RowKernels<float>**, int);
template int AvailableRowKernels<double>(const RowKernels<double>**, int);

}  // namespace asr
