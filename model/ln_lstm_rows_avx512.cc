// The LN-LSTM row kernels compiled for avx512 (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA avx512
#define ASR_ROWS_LANES 16
#include "model/ln_lstm_rows_impl.h"
