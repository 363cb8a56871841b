// The LN-LSTM row kernels compiled for avx2 (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA avx2
#define ASR_ROWS_LANES 8
#include "model/ln_lstm_rows_impl.h"

namespace asr {
namespace avx2 {
extern const RowKernels<float> kRowKernelsFloat = MakeRowKernels<float>("avx2");
extern const RowKernels<double> kRowKernelsDouble = MakeRowKernels<double>("avx2");
}  // namespace avx2
}  // namespace asr
