// The LN-LSTM row kernels compiled for avx512 (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA avx512
#define ASR_ROWS_LANES 16
#include "model/ln_lstm_rows_impl.h"

namespace asr {
namespace avx512 {
extern const RowKernels<float> kRowKernelsFloat = MakeRowKernels<float>("avx512");
extern const RowKernels<double> kRowKernelsDouble = MakeRowKernels<double>("avx512");
}  // namespace avx512
}  // namespace asr
