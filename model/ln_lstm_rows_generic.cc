// The LN-LSTM row kernels compiled for generic (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA generic
#define ASR_ROWS_LANES 8
#include "model/ln_lstm_rows_impl.h"

namespace asr {
namespace generic {
extern const RowKernels<float> kRowKernelsFloat = MakeRowKernels<float>("generic");
extern const RowKernels<double> kRowKernelsDouble = MakeRowKernels<double>("generic");
}  // namespace generic
}  // namespace asr
