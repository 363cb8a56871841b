// How `asr-client watch` (and `train --watch`) renders a job's events:
// one progress line rewritten in place on a terminal, log lines otherwise,
// or each event as a JSON line. Not thread-safe: one watcher's thread.
#pragma once

#include <cstdint>
#include <cstdio>

#include "asr/v1/training.pb.h"

namespace asr::client {

class WatchPrinter {
 public:
  // Human output goes to `log` (a terminal when `tty`: the progress line is
  // redrawn with '\r'); with `json`, every event goes to `json_out` as one
  // line instead. Neither stream is owned.
  WatchPrinter(bool tty, bool json, FILE* log, FILE* json_out);

  // Progress: bar, epoch, step, loss, learning rate, frames/s, best dev CER
  // and the ETA, smoothed (the trainer's follows the last steps' speed and
  // jumps). Validations print with "(best)". A checkpoint prints once per
  // step, and one written at a validated step (end of epoch) only when it
  // is the best so far. States, errors and messages print as they come.
  void Print(const asr::v1::JobEvent& e);
  // Ends a progress line left open on the terminal.
  void Line();

 private:
  double SmoothedEta(const asr::v1::Progress& p);

  const bool tty_, json_;
  FILE* const log_;
  FILE* const json_out_;
  bool dirty_ = false;
  double best_cer_ = -1, total_ = -1;
  int64_t last_checkpoint_ = -1;
  int64_t last_validation_step_ = -1;
};

}  // namespace asr::client
