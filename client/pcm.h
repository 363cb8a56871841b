// Audio as the recognition service's LINEAR16 encoding.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace asr::client {

// Samples in [-1, 1] (clamped) as 16-bit little-endian PCM bytes.
inline std::string Linear16Bytes(const std::vector<float>& samples) {
  std::string pcm(samples.size() * 2, '\0');
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto s = static_cast<int16_t>(std::lrint(std::clamp(samples[i], -1.f, 1.f) * 32767));
    pcm[2 * i] = static_cast<char>(s & 0xff);
    pcm[2 * i + 1] = static_cast<char>((s >> 8) & 0xff);
  }
  return pcm;
}

}  // namespace asr::client
