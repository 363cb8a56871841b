#include "features/audio.h"

#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// A read-only memory file for sf_open_virtual.
struct MemoryFile {
  const unsigned char* data;
  sf_count_t size;
  sf_count_t pos;
};

sf_count_t MemLength(void* user) { return static_cast<MemoryFile*>(user)->size; }

sf_count_t MemSeek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = f->pos + offset;
  if (whence == SEEK_END) target = f->size + offset;
  if (target < 0 || target > f->size) return -1;
  f->pos = target;
  return f->pos;
}

sf_count_t MemRead(void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, f->size - f->pos));
  if (n > 0) std::memcpy(ptr, f->data + f->pos, static_cast<size_t>(n));
  f->pos += n;
  return n;
}

sf_count_t MemWrite(const void*, sf_count_t, void*) { return 0; }
sf_count_t MemTell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

absl::Status CheckFormat(const SF_INFO& info, const std::string& name, const DecodeOptions& opts) {
  if (info.channels <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': ", info.channels, " channels"));
  }
  if (info.channels > 64) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': ", info.channels, " channels (max 64)"));
  }
  if (info.samplerate < opts.min_sample_rate || info.samplerate > opts.max_sample_rate) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': sample rate ", info.samplerate,
                                                   " Hz not in [", opts.min_sample_rate, ", ",
                                                   opts.max_sample_rate, "]"));
  }
  if (opts.channel >= info.channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "': channel ", opts.channel, " requested but the audio has ", info.channels));
  }
  return absl::OkStatus();
}

absl::StatusOr<Audio> ReadAll(SNDFILE* file, const SF_INFO& info, const std::string& name,
                              const DecodeOptions& opts) {
  if (absl::Status st = CheckFormat(info, name, opts); !st.ok()) return st;
  const int64_t max_frames = static_cast<int64_t>(opts.max_seconds * info.samplerate);
  if (info.frames > max_frames && info.frames != SF_COUNT_MAX) {
    return absl::OutOfRangeError(absl::StrCat("'", name, "': ", info.frames / info.samplerate,
                                              " s of audio exceeds the maximum of ", opts.max_seconds, " s"));
  }
  // Read in blocks: header frame counts can be wrong (corrupt or streamed files).
  std::vector<float> interleaved;
  constexpr sf_count_t kBlock = 16384;
  std::vector<float> block(static_cast<size_t>(kBlock * info.channels));
  int64_t total = 0;
  while (true) {
    const sf_count_t got = sf_readf_float(file, block.data(), kBlock);
    if (got <= 0) break;
    total += got;
    if (total > max_frames) {
      return absl::OutOfRangeError(
          absl::StrCat("'", name, "': audio exceeds the maximum of ", opts.max_seconds, " s"));
    }
    interleaved.insert(interleaved.end(), block.begin(), block.begin() + got * info.channels);
  }
  if (sf_error(file) != SF_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': decode error: ", sf_strerror(file)));
  }
  if (total == 0) return absl::InvalidArgumentError(absl::StrCat("'", name, "': no audio samples"));
  for (float v : interleaved) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat("'", name, "': NaN or infinite sample"));
    }
  }
  auto mono = DownmixToMono(interleaved.data(), static_cast<size_t>(total), info.channels, opts, name);
  if (!mono.ok()) return mono.status();
  return Audio{std::move(*mono), info.samplerate};
}

// Why libsndfile refused to open a file whose first bytes are `head`:
// what a WAV header says that libsndfile words obscurely ("SF_INFO struct
// incomplete" for a zero sample rate), else libsndfile's own message.
std::string WhyUnopenable(const unsigned char* head, size_t n) {
  auto le = [&](size_t at, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | head[at + static_cast<size_t>(i)];
    return v;
  };
  if (n >= 12 && std::memcmp(head, "RIFF", 4) == 0 && std::memcmp(head + 8, "WAVE", 4) == 0) {
    for (size_t at = 12; at + 16 <= n;) {  // chunks: id, size, body
      const uint32_t size = le(at + 4, 4);
      if (std::memcmp(head + at, "fmt ", 4) == 0 && at + 16 <= n) {
        if (le(at + 10, 2) == 0) return "WAV header: 0 channels";
        if (n >= at + 16 && le(at + 12, 4) == 0) return "WAV header: sample rate 0";
        break;
      }
      at += 8 + size + (size & 1);
    }
  }
  return sf_strerror(nullptr);
}

std::string WhyUnopenable(const std::string& path) {
  unsigned char head[256];
  FILE* f = std::fopen(path.c_str(), "rb");
  const size_t n = f ? std::fread(head, 1, sizeof head, f) : 0;
  const std::string why = sf_strerror(nullptr);  // before anything else touches libsndfile
  if (f) std::fclose(f);
  return n > 0 ? WhyUnopenable(head, n) : why;
}

}  // namespace

bool ParseRawEncoding(const std::string& name, RawEncoding* encoding) {
  for (const auto& [n, e] :
       {std::pair{"s16le", RawEncoding::kS16le}, std::pair{"f32le", RawEncoding::kF32le},
        std::pair{"mulaw", RawEncoding::kMulaw}, std::pair{"alaw", RawEncoding::kAlaw}}) {
    if (name == n) {
      *encoding = e;
      return true;
    }
  }
  return false;
}

namespace {

// The 256 values of a G.711 byte, as libsndfile decodes them (a headerless
// SF_FORMAT_ULAW or SF_FORMAT_ALAW file of every byte), built once.
const std::array<float, 256>& G711Table(RawEncoding encoding) {
  auto build = [](int subformat) {
    std::array<unsigned char, 256> bytes;
    for (int i = 0; i < 256; ++i) bytes[static_cast<size_t>(i)] = static_cast<unsigned char>(i);
    MemoryFile mem{bytes.data(), 256, 0};
    SF_VIRTUAL_IO io{MemLength, MemSeek, MemRead, MemWrite, MemTell};
    SF_INFO info{};
    info.samplerate = 8000;
    info.channels = 1;
    info.format = SF_FORMAT_RAW | subformat;
    std::array<float, 256> table{};
    SndfilePtr file(sf_open_virtual(&io, SFM_READ, &info, &mem));
    if (!file || sf_readf_float(file.get(), table.data(), 256) != 256)
      std::abort();  // libsndfile lacks G.711
    return table;
  };
  static const std::array<float, 256> mulaw = build(SF_FORMAT_ULAW), alaw = build(SF_FORMAT_ALAW);
  return encoding == RawEncoding::kMulaw ? mulaw : alaw;
}

size_t BytesPerSample(RawEncoding e) {
  switch (e) {
    case RawEncoding::kS16le:
      return 2;
    case RawEncoding::kF32le:
      return 4;
    case RawEncoding::kMulaw:
    case RawEncoding::kAlaw:
      return 1;
  }
  return 1;
}

}  // namespace

absl::StatusOr<std::vector<float>> DownmixToMono(const float* interleaved, size_t frames, int channels,
                                                 const DecodeOptions& opts, const std::string& name) {
  if (channels <= 0) return absl::InvalidArgumentError(absl::StrCat("'", name, "': ", channels, " channels"));
  if (opts.channel >= channels || opts.channel < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "': channel ", opts.channel, " requested but the audio has ", channels));
  }
  std::vector<float> mono(frames);
  if (channels == 1) {
    std::memcpy(mono.data(), interleaved, frames * sizeof(float));
  } else if (opts.channel >= 0) {
    for (size_t i = 0; i < frames; ++i) mono[i] = interleaved[i * channels + opts.channel];
  } else {
    const float scale = 1.f / channels;
    for (size_t i = 0; i < frames; ++i) {
      float s = 0.f;
      for (int c = 0; c < channels; ++c) s += interleaved[i * channels + c];
      mono[i] = s * scale;
    }
  }
  return mono;
}

absl::StatusOr<Audio> DecodeAudioFile(const std::string& path, const DecodeOptions& opts) {
  SF_INFO info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file)
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': cannot decode: ", WhyUnopenable(path)));
  return ReadAll(file.get(), info, path, opts);
}

absl::StatusOr<Audio> DecodeAudioBuffer(const void* data, size_t size, const std::string& name,
                                        const DecodeOptions& opts) {
  if (size == 0) return absl::InvalidArgumentError(absl::StrCat("'", name, "': empty audio buffer"));
  MemoryFile mem{static_cast<const unsigned char*>(data), static_cast<sf_count_t>(size), 0};
  SF_VIRTUAL_IO io{MemLength, MemSeek, MemRead, MemWrite, MemTell};
  SF_INFO info{};
  SndfilePtr file(sf_open_virtual(&io, SFM_READ, &info, &mem));
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "': cannot decode: ", WhyUnopenable(mem.data, std::min<size_t>(size, 256))));
  }
  return ReadAll(file.get(), info, name, opts);
}

absl::StatusOr<Audio> DecodeRawPcm(const void* data, size_t size, const RawFormat& format,
                                   const std::string& name, const DecodeOptions& opts) {
  SF_INFO info{};
  info.channels = format.channels;
  info.samplerate = format.sample_rate;
  if (absl::Status st = CheckFormat(info, name, opts); !st.ok()) return st;
  const size_t bytes_per_sample = BytesPerSample(format.encoding);
  const size_t frame_bytes = bytes_per_sample * static_cast<size_t>(format.channels);
  if (size == 0) return absl::InvalidArgumentError(absl::StrCat("'", name, "': no audio samples"));
  if (size % frame_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': ", size, " bytes is not a whole number of ",
                                                   frame_bytes, "-byte frames"));
  }
  const size_t frames = size / frame_bytes;
  if (static_cast<double>(frames) > opts.max_seconds * format.sample_rate) {
    return absl::OutOfRangeError(
        absl::StrCat("'", name, "': audio exceeds the maximum of ", opts.max_seconds, " s"));
  }
  std::vector<float> interleaved(frames * static_cast<size_t>(format.channels));
  const auto* bytes = static_cast<const unsigned char*>(data);
  const bool g711 = format.encoding == RawEncoding::kMulaw || format.encoding == RawEncoding::kAlaw;
  const std::array<float, 256>* table = g711 ? &G711Table(format.encoding) : nullptr;
  for (size_t i = 0; i < interleaved.size(); ++i) {
    if (table != nullptr) {
      interleaved[i] = (*table)[bytes[i]];
    } else if (format.encoding == RawEncoding::kS16le) {
      const int16_t v = static_cast<int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
      interleaved[i] = static_cast<float>(v) / 32768.f;
    } else {
      uint32_t u = static_cast<uint32_t>(bytes[4 * i]) | (static_cast<uint32_t>(bytes[4 * i + 1]) << 8) |
                   (static_cast<uint32_t>(bytes[4 * i + 2]) << 16) |
                   (static_cast<uint32_t>(bytes[4 * i + 3]) << 24);
      float v;
      std::memcpy(&v, &u, 4);
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "': NaN or infinite sample at ", i));
      }
      interleaved[i] = v;
    }
  }
  auto mono = DownmixToMono(interleaved.data(), frames, format.channels, opts, name);
  if (!mono.ok()) return mono.status();
  return Audio{std::move(*mono), format.sample_rate};
}

absl::StatusOr<double> ProbeAudioDuration(const std::string& path) {
  SF_INFO info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file)
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': cannot open: ", WhyUnopenable(path)));
  if (info.samplerate <= 0 || info.frames <= 0 || info.frames == SF_COUNT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': no duration in the header"));
  }
  return static_cast<double>(info.frames) / info.samplerate;
}

std::vector<std::string> SupportedContainerFormats() {
  std::vector<std::string> out;
  const std::pair<const char*, int> kCandidates[] = {{"WAV", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
                                                     {"FLAC", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
                                                     {"OGG/Vorbis", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
                                                     {"OGG/Opus", SF_FORMAT_OGG | SF_FORMAT_OPUS}};
  for (const auto& [n, fmt] : kCandidates) {
    SF_INFO info{};
    info.channels = 1;
    info.samplerate = n == std::string("OGG/Opus") ? 48000 : 16000;
    info.format = fmt;
    if (sf_format_check(&info)) out.push_back(n);
  }
  return out;
}

bool LibsndfileSupportsOpus() {
  for (const std::string& f : SupportedContainerFormats()) {
    if (f == "OGG/Opus") return true;
  }
  return false;
}

}  // namespace asr
