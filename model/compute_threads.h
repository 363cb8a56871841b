// Process-wide control of the threads LibTorch and the BLAS library use.
//
// Debian's LibTorch calls into OpenBLAS for matrix products. OpenBLAS keeps
// its own thread pool, sized to every core by default; in a per-timestep LSTM
// loop its spinning/yielding threads cost more system time than the small
// products save. Every executable therefore sets both pools deliberately,
// once at start-up, through SetComputeThreads().
#pragma once

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

// Threads the BLAS library reports it will use, or -1 if the linked BLAS has
// no such query (e.g. the reference BLAS).
int BlasThreads();

// LibTorch intra-op threads currently configured.
int TorchThreads();

}  // namespace asr
