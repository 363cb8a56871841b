// Hooks for measuring recognition (the server's Prometheus metrics implement
// them). Called on the thread that decodes, with no lock of the caller's
// held; implementations must be thread-safe and quick.
#pragma once

namespace asr {

class RecognitionObserver {
 public:
  virtual ~RecognitionObserver() = default;
  // A model output frame was decoded: `seconds` of audio.
  virtual void OnAudioDecoded(double seconds) { (void)seconds; }
  // Every frame of a received chunk has been decoded, `latency_seconds`
  // after the chunk arrived.
  virtual void OnChunkDecoded(double latency_seconds) { (void)latency_seconds; }
  // A final result was made, `latency_seconds` after the audio that ended
  // its utterance arrived: the chunk of its last speech at an endpoint, the
  // end of input for the stream's last final.
  virtual void OnFinalResult(double latency_seconds) { (void)latency_seconds; }
  // One batched LN-LSTM step advanced `streams` streams, `audio_seconds`
  // of audio in all, in `seconds`.
  virtual void OnBatch(int streams, double seconds, double audio_seconds) {
    (void)streams;
    (void)seconds;
    (void)audio_seconds;
  }
};

}  // namespace asr
