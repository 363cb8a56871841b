// What recognition hands back: for a stream, a sequence of interim and final
// results; for a whole file, its alternatives.
#pragma once

#include <vector>

#include "model/ctc.h"

namespace asr {

// Speech activity from the model's outputs: begin at an utterance's first
// non-blank frame, end where its endpoint cuts it.
enum class SpeechEvent { kNone, kBegin, kEnd };

// One result of a stream, or (event != kNone) a speech event alone, with
// no alternatives.
struct RecognitionResult {
  SpeechEvent event = SpeechEvent::kNone;
  double event_seconds = 0;              // of the event: audio time from the stream start
  bool is_final = false;                 // false: an interim hypothesis that later results revise
  int utterance_index = 0;               // 0, 1, ...: utterances end at endpoints
  double end_seconds = 0;                // audio the decoder has consumed, from the stream start
  std::vector<Transcript> alternatives;  // best first; at least one (possibly empty text) unless an event
  // Interim results: share of the best transcript's words that equal the
  // previous interim's at the same positions, in [0, 1].
  float stability = 0;
  bool end_of_single_utterance = false;  // the final result of a single-utterance stream
  // Audio fully run through the model when the result was made, seconds
  // (the last few tens of ms wait for following samples).
  double processed_seconds = 0;
};

// One utterance of a whole recording: endpointing (trailing non-speech, as
// a stream's finals) applied offline.
struct OfflineUtterance {
  std::vector<Transcript> alternatives;  // best first; word times from the recording's start
  double start_seconds = 0;              // its first speech frame
  double end_seconds = 0;                // its last speech frame's end
};

// The result of recognizing a whole recording.
struct OfflineResult {
  std::vector<Transcript> alternatives;      // the recording decoded as one; empty if too short for one frame
  std::vector<OfflineUtterance> utterances;  // in order; one (empty) without speech, none if too short
  double audio_seconds = 0;
};

}  // namespace asr
