// Deterministic seed derivation shared by the data pipeline and training.
#pragma once

#include <cstdint>

namespace asr {

// SplitMix64's output function: a bijective mix of all 64 bits.
inline uint64_t SplitMix64Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace asr
