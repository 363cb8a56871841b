// Process-wide control of the threads LibTorch and the BLAS library use.
//
// Debian's LibTorch calls into OpenBLAS for matrix products. OpenBLAS keeps
// its own thread pool, sized to every core by default; in a per-timestep LSTM
// loop its spinning/yielding threads cost more system time than the small
// products save. Every executable therefore sets both pools deliberately,
// once at start-up, through SetComputeThreads().
#pragma once

#include <string>

namespace asr {

// Resolves a user's --threads value: a positive value is used as is; zero or
// negative means "auto" = max(1, hardware cores / 2), which leaves the other
// half of the machine to gRPC, feature extraction and data loading.
int ResolveComputeThreads(int requested);

// Sets LibTorch's intra-op threads and the BLAS library's threads to
// `threads` (>= 1), and LibTorch's inter-op threads to 1 when that is still
// possible. Process-wide; call once before tensor work starts. Thread-safe
// in the sense that concurrent calls do not crash, but the last one wins.
void SetComputeThreads(int threads);

// Keeps freed large blocks in the process instead of returning them to the
// kernel (glibc: mmap threshold 32 MiB, its maximum, and no heap trimming
// below 1 GiB). Training allocates and frees the same tens of megabytes
// every step; with glibc's defaults each allocation is a fresh mmap whose
// pages the kernel must zero, which cost over 20% of LSTM training time.
// Process-wide; call once at start-up.
void ConfigureAllocatorForTraining();

// Threads the BLAS library reports it will use, or -1 if the linked BLAS has
// no such query (e.g. the reference BLAS).
int BlasThreads();

// OpenBLAS's name for the kernels it runs ("SkylakeX", "Haswell", ...), or
// "" when the BLAS library is not OpenBLAS.
std::string BlasCoreName();

// One line naming the compute kernels in use, for start-up logs:
// "OpenBLAS Cooperlake GEMMs, avx512 LN-LSTM row kernels", with
// " (OPENBLAS_CORETYPE=... from the environment)" when that variable chose
// OpenBLAS's kernels instead of its own detection.
std::string ComputeKernelsSummary();

// LibTorch intra-op threads currently configured.
int TorchThreads();

}  // namespace asr
