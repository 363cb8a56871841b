// The LN-LSTM row kernels compiled for avx2 (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA avx2
#define ASR_ROWS_LANES 8
#include "model/ln_lstm_rows_impl.h"
