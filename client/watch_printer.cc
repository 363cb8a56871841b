#include "client/watch_printer.h"

#include <algorithm>
#include <string>

#include "client/connection.h"
#include "client/training_jobs.h"

namespace asr::client {
namespace {

// "4m05s", or "1h02m" from an hour on.
std::string Hms(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  std::snprintf(buf, sizeof(buf), t >= 3600 ? "%dh%02dm" : "%dm%02ds", t >= 3600 ? t / 3600 : t / 60,
                t >= 3600 ? t / 60 % 60 : t % 60);
  return buf;
}

}  // namespace

WatchPrinter::WatchPrinter(bool tty, bool json, FILE* log, FILE* json_out)
    : tty_(tty), json_(json), log_(log), json_out_(json_out) {}

void WatchPrinter::Print(const asr::v1::JobEvent& e) {
  if (json_) {
    std::fprintf(json_out_, "%s\n", ToJsonLine(e).c_str());
    std::fflush(json_out_);
    return;
  }
  if (e.has_progress()) {
    const auto& p = e.progress();
    const double frac = p.total_steps() ? std::min(1.0, double(p.step()) / double(p.total_steps())) : 0;
    const int filled = static_cast<int>(frac * 24);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(24, '.');
    char cer[32] = "-";
    if (best_cer_ >= 0) std::snprintf(cer, sizeof(cer), "%.2f%%", 100 * best_cer_);
    std::fprintf(
        log_,
        tty_ ? "\r[%s] %3.0f%% epoch %lld/%lld step %lld loss %.3f lr %.1e %.0fk frames/s CER %s ETA %s   "
             : "[%s] %3.0f%% epoch %lld/%lld step %lld loss %.3f lr %.1e %.0fk frames/s CER %s ETA %s\n",
        bar.c_str(), 100 * frac, static_cast<long long>(p.epoch() + 1),
        static_cast<long long>(p.total_epochs()), static_cast<long long>(p.step()), p.loss(),
        p.learning_rate(), p.frames_per_second() / 1000, cer, Hms(SmoothedEta(p)).c_str());
    dirty_ = tty_;
    return;
  }
  Line();
  if (e.has_validation()) {
    const auto& v = e.validation();
    if (v.is_best()) best_cer_ = v.cer();
    last_validation_step_ = v.step();
    std::fprintf(log_, "validation epoch %lld step %lld: CER %.2f%% WER %.2f%%%s\n",
                 static_cast<long long>(v.epoch() + 1), static_cast<long long>(v.step()), 100 * v.cer(),
                 100 * v.wer(), v.is_best() ? " (best)" : "");
  } else if (e.has_checkpoint_saved()) {
    // The end-of-epoch checkpoint beside its validation line is news only
    // when it is the best so far; others (periodic, on cancel) are shown,
    // each step once (a cancel's checkpoint may be the one just written).
    const auto& c = e.checkpoint_saved();
    if (c.step() != last_checkpoint_ && (c.step() != last_validation_step_ || c.is_best())) {
      std::fprintf(log_, "checkpoint at step %lld%s\n", static_cast<long long>(c.step()),
                   c.is_best() ? " (best dev CER so far)" : "");
    }
    last_checkpoint_ = c.step();
  } else if (e.has_state()) {
    std::fprintf(log_, "state %s\n", StateName(e.state()).c_str());
  } else if (e.has_error()) {
    std::fprintf(log_, "error: %s\n", e.error().c_str());
  } else {
    std::fprintf(log_, "%s\n", e.message().c_str());
  }
}

void WatchPrinter::Line() {
  if (dirty_) std::fputc('\n', log_);
  dirty_ = false;
}

// The trainer's ETA follows the last steps' speed and jumps with it
// (validation, a slow batch); the total it implies (elapsed + ETA) is
// averaged instead (exponentially, over about ten progress events).
double WatchPrinter::SmoothedEta(const asr::v1::Progress& p) {
  const double total = p.elapsed_seconds() + p.eta_seconds();
  total_ = total_ < 0 ? total : 0.9 * total_ + 0.1 * total;
  return std::max(0.0, total_ - p.elapsed_seconds());
}

}  // namespace asr::client
