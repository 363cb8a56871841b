// asr-client watch's rendering (client/watch_printer.h): the ETA does not
// jump with the trainer's, and each checkpoint is printed once, an
// end-of-epoch one only when it is the best so far.
#include "client/watch_printer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace asr::client {
namespace {

// Everything `events` make the printer write (as log lines, not a terminal).
std::vector<std::string> Render(const std::vector<asr::v1::JobEvent>& events) {
  char* buf = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buf, &size);
  {
    WatchPrinter printer(/*tty=*/false, /*json=*/false, out, out);
    for (const auto& e : events) printer.Print(e);
    printer.Line();
  }
  std::fclose(out);
  std::vector<std::string> lines;
  std::istringstream in(std::string(buf, size));
  std::free(buf);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

asr::v1::JobEvent Progress(double elapsed, double eta) {
  asr::v1::JobEvent e;
  auto* p = e.mutable_progress();
  p->set_step(static_cast<int64_t>(elapsed * 10)), p->set_total_steps(1000);
  p->set_elapsed_seconds(elapsed), p->set_eta_seconds(eta);
  return e;
}

asr::v1::JobEvent Validation(int64_t step, bool best) {
  asr::v1::JobEvent e;
  e.mutable_validation()->set_step(step), e.mutable_validation()->set_is_best(best);
  e.mutable_validation()->set_cer(0.1);
  return e;
}

asr::v1::JobEvent Checkpoint(int64_t step, bool best) {
  asr::v1::JobEvent e;
  e.mutable_checkpoint_saved()->set_step(step), e.mutable_checkpoint_saved()->set_is_best(best);
  return e;
}

TEST(WatchPrinterTest, TheEtaDoesNotJumpWithTheTrainers) {
  // Ten seconds apart, the trainer's ETA jumps 54 s -> 112 s -> 32 s -> 100 s
  // -> 20 s as the speed of its last steps swings (a validation, slow batches).
  const std::vector<std::pair<double, double>> raw = {{10, 54}, {20, 112}, {30, 32}, {40, 100}, {50, 20}};
  std::vector<asr::v1::JobEvent> events;
  for (const auto& [elapsed, eta] : raw) events.push_back(Progress(elapsed, eta));
  const std::vector<std::string> lines = Render(events);
  ASSERT_EQ(lines.size(), raw.size());
  std::vector<int> shown;
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(ETA (\d+)m(\d\d)s$)"))) << line;
    shown.push_back(std::stoi(m[1]) * 60 + std::stoi(m[2]));
  }
  EXPECT_EQ(shown[0], 54) << "the first estimate is the trainer's";
  for (size_t i = 1; i < shown.size(); ++i) {
    // Time went on by 10 s: the ETA may fall by about that, never rise with the trainer's jumps.
    EXPECT_LE(shown[i], shown[i - 1]) << "event " << i << ": " << lines[i];
    EXPECT_GE(shown[i], shown[i - 1] - 15) << "event " << i << ": " << lines[i];
  }
}

TEST(WatchPrinterTest, EachCheckpointOnceAndAnEpochsOnlyWhenBest) {
  const std::vector<std::string> lines = Render({
      Validation(100, /*best=*/true), Checkpoint(100, true),  // end of epoch 1, the best
      Checkpoint(150, false),                                 // periodic
      Validation(200, false), Checkpoint(200, false),         // end of epoch 2, not the best: no line
      Checkpoint(250, false), Checkpoint(250, false),         // cancel's checkpoint, sent twice
  });
  std::vector<std::string> checkpoints;
  for (const std::string& line : lines) {
    if (line.rfind("checkpoint at step", 0) == 0) checkpoints.push_back(line);
  }
  EXPECT_EQ(checkpoints, (std::vector<std::string>{"checkpoint at step 100 (best dev CER so far)",
                                                   "checkpoint at step 150", "checkpoint at step 250"}));
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) { return l.rfind("validation", 0) == 0; }),
            2);
}

}  // namespace
}  // namespace asr::client
