// What recognition hands back: for a stream, a sequence of interim and final
// results; for a whole file, its alternatives.
#pragma once

#include <vector>

#include "model/ctc.h"

namespace asr {

// One result of a stream.
struct RecognitionResult {
  bool is_final = false;                 // false: an interim hypothesis that later results revise
  int utterance_index = 0;               // 0, 1, ...: utterances end at endpoints
  double end_seconds = 0;                // audio the decoder has consumed, from the stream start
  std::vector<Transcript> alternatives;  // best first; at least one (possibly empty text)
  // Interim results: share of the best transcript's words that equal the
  // previous interim's at the same positions, in [0, 1].
  float stability = 0;
  bool end_of_single_utterance = false;  // the final result of a single-utterance stream
  // Audio fully run through the model when the result was made, seconds
  // (the last few tens of ms wait for following samples).
  double processed_seconds = 0;
};

// The result of recognizing a whole recording.
struct OfflineResult {
  std::vector<Transcript> alternatives;  // best first; empty for audio too short for one frame
  double audio_seconds = 0;
};

}  // namespace asr
