#include "features/compressed_stream.h"

#include <FLAC/stream_decoder.h>
#include <ogg/ogg.h>
#include <opus/opus_multistream.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

// Sums interleaved frames into mono (the average of the channels), appended to *mono.
template <class Sample>
void AppendMono(const Sample* const* planes, const Sample* interleaved, size_t frames, int channels,
                float scale, std::vector<float>* mono) {
  const float k = scale / static_cast<float>(channels);
  for (size_t i = 0; i < frames; ++i) {
    float s = 0;
    for (int c = 0; c < channels; ++c) {
      s += static_cast<float>(planes ? planes[c][i] : interleaved[i * static_cast<size_t>(channels) + c]);
    }
    mono->push_back(s * k);
  }
}

// Bytes received and not yet handed to the codec library, with the
// absolute offset of the first one.
class ByteQueue {
 public:
  void Append(const char* data, size_t n) {
    if (head_ > 65536 && head_ * 2 > buf_.size()) {  // amortized O(1) per byte
      buf_.erase(0, head_);
      base_ += head_;
      head_ = 0;
    }
    buf_.append(data, n);
  }
  size_t received() const { return base_ + buf_.size(); }  // absolute end
  size_t position() const { return base_ + head_; }        // absolute read position
  size_t unread() const { return buf_.size() - head_; }
  const char* at(size_t absolute) const { return buf_.data() + (absolute - base_); }
  // Copies up to `max` bytes, none at or beyond absolute offset `limit`.
  size_t Read(char* out, size_t max, size_t limit) {
    const size_t n = std::min({max, unread(), limit > position() ? limit - position() : 0});
    std::memcpy(out, buf_.data() + head_, n);
    head_ += n;
    return n;
  }

 private:
  std::string buf_;
  size_t head_ = 0, base_ = 0;
};

// Shared bookkeeping: the decoded-length limit and sample rate checks.
class DecoderBase : public CompressedStreamDecoder {
 public:
  DecoderBase(std::string name, double max_seconds) : name_(std::move(name)), max_seconds_(max_seconds) {}
  int sample_rate() const override { return rate_; }

 protected:
  absl::Status Invalid(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("'", name_, "': ", what));
  }
  absl::Status SetRate(int rate) {
    if (rate < 1000 || rate > 384000)
      return Invalid(absl::StrCat("sample rate ", rate, " Hz not in [1000, 384000]"));
    rate_ = rate;
    return absl::OkStatus();
  }
  // After samples were appended: OUT_OF_RANGE past max_seconds.
  absl::Status CheckLength(size_t added) {
    decoded_ += added;
    if (rate_ > 0 && static_cast<double>(decoded_) / rate_ > max_seconds_) {
      return absl::OutOfRangeError(
          absl::StrCat("'", name_, "': stream longer than the server's maximum of ", max_seconds_, " s"));
    }
    return absl::OkStatus();
  }

  const std::string name_;
  const double max_seconds_;
  int rate_ = 0;
  size_t decoded_ = 0;
};

// ---- FLAC ----------------------------------------------------------------------
// libFLAC reads through a callback that cannot wait. The metadata blocks
// carry their lengths, so they go to libFLAC once all have arrived; audio
// frames do not, so one is decoded only while more bytes than the largest
// frame STREAMINFO allows are buffered (or the input has ended).
class FlacDecoder final : public DecoderBase {
 public:
  FlacDecoder(std::string name, double max_seconds) : DecoderBase(std::move(name), max_seconds) {}
  ~FlacDecoder() override {
    if (dec_) FLAC__stream_decoder_delete(dec_);
  }

  absl::Status Init() {
    dec_ = FLAC__stream_decoder_new();
    if (!dec_) return absl::ResourceExhaustedError("FLAC decoder: out of memory");
    if (FLAC__stream_decoder_init_stream(dec_, &ReadCb, nullptr, nullptr, nullptr, nullptr, &WriteCb, nullptr,
                                         &ErrorCb, this) != FLAC__STREAM_DECODER_INIT_STATUS_OK) {
      return absl::InternalError("FLAC decoder: init failed");
    }
    return absl::OkStatus();
  }

  absl::Status Accept(const char* data, size_t n, std::vector<float>* mono) override {
    in_.Append(data, n);
    return Decode(mono);
  }
  size_t buffered_bytes() const override { return in_.unread(); }

  absl::Status Finish(std::vector<float>* mono) override {
    final_ = true;
    if (absl::Status st = Decode(mono); !st.ok()) return st;
    if (!metadata_done_) return Invalid("truncated FLAC stream (incomplete header)");
    return absl::OkStatus();
  }

 private:
  absl::Status Decode(std::vector<float>* mono) {
    out_ = mono;
    if (!metadata_done_) {
      if (absl::Status st = ScanMetadata(); !st.ok()) return st;
      if (!metadata_done_) return absl::OkStatus();
      limit_ = metadata_end_;
      if (!FLAC__stream_decoder_process_until_end_of_metadata(dec_)) return Failed();
      limit_ = SIZE_MAX;
    }
    if (final_) {
      if (!FLAC__stream_decoder_process_until_end_of_stream(dec_)) return Failed();
      return status_;
    }
    while (status_.ok() && in_.unread() > frame_bound_ &&
           FLAC__stream_decoder_get_state(dec_) != FLAC__STREAM_DECODER_END_OF_STREAM) {
      if (!FLAC__stream_decoder_process_single(dec_)) return Failed();
    }
    return status_;
  }

  absl::Status Failed() {
    if (!status_.ok()) return status_;
    return Invalid(
        absl::StrCat("FLAC: ", FLAC__StreamDecoderStateString[FLAC__stream_decoder_get_state(dec_)]));
  }

  // Walks the "fLaC" marker and metadata block headers received so far;
  // reads STREAMINFO. Sets metadata_done_ once the last block is complete.
  absl::Status ScanMetadata() {
    const size_t end = in_.received();
    if (scan_ == 0) {
      if (end < 4) return final_ ? Invalid("not a FLAC stream (too short)") : absl::OkStatus();
      if (std::memcmp(in_.at(0), "fLaC", 4) != 0) return Invalid("not a FLAC stream (no fLaC marker)");
      scan_ = 4;
    }
    while (!metadata_done_ && end >= scan_ + 4) {
      const auto* h = reinterpret_cast<const unsigned char*>(in_.at(scan_));
      const size_t length = (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
      if (end < scan_ + 4 + length) break;
      if ((h[0] & 0x7f) == 0) {  // STREAMINFO
        if (length < 34) return Invalid("FLAC: STREAMINFO too short");
        const auto* b = h + 4;
        const size_t max_block = (size_t{b[2]} << 8) | b[3];
        const size_t max_frame = (size_t{b[7]} << 16) | (size_t{b[8]} << 8) | b[9];
        const int rate = (b[10] << 12) | (b[11] << 4) | (b[12] >> 4);
        const int channels = ((b[12] >> 1) & 7) + 1;
        const int bits = (((b[12] & 1) << 4) | (b[13] >> 4)) + 1;
        if (absl::Status st = SetRate(rate); !st.ok()) return st;
        // The largest frame: STREAMINFO's own figure, else a verbatim frame.
        frame_bound_ = max_frame > 0 ? max_frame : max_block * static_cast<size_t>(channels * bits) / 8 + 64;
        frame_bound_ = std::max<size_t>(frame_bound_, 1024);
      }
      scan_ += 4 + length;
      if (h[0] & 0x80) {
        metadata_done_ = true;
        metadata_end_ = scan_;
        if (rate_ == 0) return Invalid("FLAC: no STREAMINFO block");
      }
    }
    return absl::OkStatus();
  }

  static FLAC__StreamDecoderReadStatus ReadCb(const FLAC__StreamDecoder*, FLAC__byte buffer[], size_t* bytes,
                                              void* self) {
    auto* d = static_cast<FlacDecoder*>(self);
    *bytes = d->in_.Read(reinterpret_cast<char*>(buffer), *bytes, d->limit_);
    if (*bytes > 0) return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
    if (d->final_) return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
    // Cannot happen while frames respect STREAMINFO: the caller keeps more
    // than the largest frame buffered.
    d->status_ = d->Invalid("FLAC frame larger than STREAMINFO allows");
    return FLAC__STREAM_DECODER_READ_STATUS_ABORT;
  }

  static FLAC__StreamDecoderWriteStatus WriteCb(const FLAC__StreamDecoder*, const FLAC__Frame* frame,
                                                const FLAC__int32* const buffer[], void* self) {
    auto* d = static_cast<FlacDecoder*>(self);
    const unsigned bits = frame->header.bits_per_sample;
    if (bits == 0 || bits > 32 || frame->header.sample_rate != static_cast<unsigned>(d->rate_)) {
      d->status_ = d->Invalid("FLAC frame changes the stream's format");
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    const size_t n = frame->header.blocksize;
    AppendMono<FLAC__int32>(buffer, nullptr, n, static_cast<int>(frame->header.channels),
                            1.f / static_cast<float>(1ull << (bits - 1)), d->out_);
    d->status_ = d->CheckLength(n);
    return d->status_.ok() ? FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE
                           : FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
  }

  static void ErrorCb(const FLAC__StreamDecoder*, FLAC__StreamDecoderErrorStatus status, void* self) {
    auto* d = static_cast<FlacDecoder*>(self);
    if (d->status_.ok())
      d->status_ = d->Invalid(absl::StrCat("FLAC: ", FLAC__StreamDecoderErrorStatusString[status]));
  }

  FLAC__StreamDecoder* dec_ = nullptr;
  ByteQueue in_;                       // received, not yet handed to libFLAC
  std::vector<float>* out_ = nullptr;  // where WriteCb appends, during a call
  absl::Status status_;                // the first error a callback met
  bool final_ = false, metadata_done_ = false;
  size_t scan_ = 0, metadata_end_ = 0;  // absolute offsets
  size_t limit_ = SIZE_MAX;             // ReadCb hands out nothing at or past this offset
  size_t frame_bound_ = 0;              // bytes of the largest frame
};

// ---- Ogg/Opus ------------------------------------------------------------------
// libogg assembles pages and packets from whatever bytes have arrived, so
// this is incremental by construction. RFC 7845: OpusHead (channels,
// pre-skip, channel mapping), OpusTags, then audio packets at 48 kHz; the
// first pre-skip samples are dropped, and the last page's granule
// position trims the end (both counted at 48 kHz, whatever rate libopus
// decodes at).
class OpusDecoder final : public DecoderBase {
 public:
  OpusDecoder(std::string name, double max_seconds, int rate)
      : DecoderBase(std::move(name), max_seconds), out_rate_(rate), per_sample_(48000 / rate) {
    ogg_sync_init(&sync_);
  }
  ~OpusDecoder() override {
    if (dec_) opus_multistream_decoder_destroy(dec_);
    if (stream_init_) ogg_stream_clear(&stream_);
    ogg_sync_clear(&sync_);
  }

  absl::Status Accept(const char* data, size_t n, std::vector<float>* mono) override {
    if (n > 0) {
      char* buf = ogg_sync_buffer(&sync_, static_cast<long>(n));
      if (!buf) return absl::ResourceExhaustedError("Ogg: out of memory");
      std::memcpy(buf, data, n);
      ogg_sync_wrote(&sync_, static_cast<long>(n));
    }
    return Decode(mono);
  }

  absl::Status Finish(std::vector<float>* mono) override {
    if (absl::Status st = Decode(mono); !st.ok()) return st;
    if (!dec_ || !tags_seen_) return Invalid("truncated Ogg/Opus stream (incomplete header)");
    if (!ended_) return Invalid("truncated Ogg/Opus stream (no end-of-stream page)");
    return absl::OkStatus();
  }

  size_t buffered_bytes() const override { return static_cast<size_t>(sync_.fill - sync_.returned); }

 private:
  absl::Status Decode(std::vector<float>* mono) {
    ogg_page page;
    while (!ended_) {
      const int r = ogg_sync_pageout(&sync_, &page);
      if (r == 0) break;  // needs more bytes
      if (r < 0) {
        if (!stream_init_) return Invalid("not an Ogg stream");
        return Invalid("Ogg: corrupt or missing data (lost page sync)");
      }
      if (!stream_init_) {
        ogg_stream_init(&stream_, ogg_page_serialno(&page));
        stream_init_ = true;
      } else if (ogg_page_serialno(&page) != stream_.serialno) {
        return Invalid("Ogg: more than one logical stream (chained or multiplexed files are not supported)");
      }
      if (ogg_stream_pagein(&stream_, &page) != 0) return Invalid("Ogg: bad page");
      if (absl::Status st = DrainPackets(ogg_page_granulepos(&page), mono); !st.ok()) return st;
      if (ogg_page_eos(&page)) ended_ = true;
    }
    return absl::OkStatus();
  }

  absl::Status DrainPackets(int64_t page_granule, std::vector<float>* mono) {
    ogg_packet p;
    while (true) {
      const int r = ogg_stream_packetout(&stream_, &p);
      if (r == 0) return absl::OkStatus();
      if (r < 0) return Invalid("Ogg: a page is missing");
      if (!dec_) {
        if (absl::Status st = ParseHead(p); !st.ok()) return st;
        continue;
      }
      if (!tags_seen_) {
        if (p.bytes < 8 || std::memcmp(p.packet, "OpusTags", 8) != 0)
          return Invalid("Opus: no OpusTags packet");
        tags_seen_ = true;
        continue;
      }
      if (absl::Status st = DecodePacket(p, page_granule, mono); !st.ok()) return st;
    }
  }

  absl::Status ParseHead(const ogg_packet& p) {
    const unsigned char* h = p.packet;
    if (p.bytes < 19 || std::memcmp(h, "OpusHead", 8) != 0)
      return Invalid("not an Ogg/Opus stream (no OpusHead)");
    if ((h[8] & 0xf0) != 0) return Invalid(absl::StrCat("Opus: unsupported version ", h[8]));
    channels_ = h[9];
    pre_skip_ = h[10] | (h[11] << 8);
    const int mapping = h[18];
    int streams = 1, coupled = channels_ == 2 ? 1 : 0;
    unsigned char map[255] = {0, 1};
    if (channels_ < 1) return Invalid("Opus: 0 channels");
    if (mapping == 0) {
      if (channels_ > 2) return Invalid("Opus: mapping family 0 with more than 2 channels");
    } else {
      if (p.bytes < 21 + channels_) return Invalid("Opus: OpusHead too short for its channel mapping");
      streams = h[19];
      coupled = h[20];
      std::memcpy(map, h + 21, static_cast<size_t>(channels_));
    }
    int err = 0;
    dec_ = opus_multistream_decoder_create(out_rate_, channels_, streams, coupled, map, &err);
    if (err != OPUS_OK || !dec_) return Invalid(absl::StrCat("Opus: ", opus_strerror(err)));
    return SetRate(out_rate_);
  }

  absl::Status DecodePacket(const ogg_packet& p, int64_t page_granule, std::vector<float>* mono) {
    const int max_frames = 5760 / per_sample_;  // 120 ms, the longest packet
    pcm_.resize(static_cast<size_t>(max_frames * channels_));
    const int n = opus_multistream_decode_float(dec_, p.packet, static_cast<opus_int32>(p.bytes), pcm_.data(),
                                                max_frames, 0);
    if (n < 0) return Invalid(absl::StrCat("Opus: ", opus_strerror(n)));
    // This packet's samples on the 48 kHz granule scale, pre-skip included.
    const int64_t first = granule_;
    int64_t begin = first, end = first + int64_t{n} * per_sample_;
    granule_ = end;
    // The stream's last packet: its page's granule position says where the audio ends.
    if (p.e_o_s && page_granule >= 0) end = std::min(end, page_granule);
    begin = std::max<int64_t>(begin, pre_skip_);
    if (end <= begin) return absl::OkStatus();
    const int64_t skip = (begin - first) / per_sample_, count = (end - begin) / per_sample_;
    const size_t before = mono->size();
    AppendMono<float>(nullptr, pcm_.data() + skip * channels_, static_cast<size_t>(count), channels_, 1.f,
                      mono);
    return CheckLength(mono->size() - before);
  }

  ogg_sync_state sync_{};
  ogg_stream_state stream_{};
  bool stream_init_ = false, tags_seen_ = false, ended_ = false;
  OpusMSDecoder* dec_ = nullptr;
  const int out_rate_, per_sample_;  // decoded rate; 48 kHz granules per decoded sample
  int channels_ = 0, pre_skip_ = 0;
  int64_t granule_ = 0;  // 48 kHz samples decoded so far, pre-skip included
  std::vector<float> pcm_;
};

}  // namespace

int CompressedStreamDecoder::OpusRateFor(int rate) {
  for (int r : {8000, 12000, 16000, 24000}) {
    if (rate == r) return r;
  }
  return 48000;
}

absl::StatusOr<std::unique_ptr<CompressedStreamDecoder>> CompressedStreamDecoder::Create(
    CompressedCodec codec, std::string name, double max_seconds, int opus_rate) {
  if (codec == CompressedCodec::kOggOpus) {
    if (OpusRateFor(opus_rate) != opus_rate) {
      return absl::InvalidArgumentError(absl::StrCat("Opus cannot decode at ", opus_rate, " Hz"));
    }
    return std::make_unique<OpusDecoder>(std::move(name), max_seconds, opus_rate);
  }
  auto d = std::make_unique<FlacDecoder>(std::move(name), max_seconds);
  if (absl::Status st = d->Init(); !st.ok()) return st;
  return d;
}

}  // namespace asr
