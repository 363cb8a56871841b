// The LN-LSTM row kernels compiled for generic (flags in model/CMakeLists.txt).
#define ASR_ROWS_ISA generic
#define ASR_ROWS_LANES 8
#include "model/ln_lstm_rows_impl.h"
