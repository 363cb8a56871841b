// asr-train: trains an LN-LSTM CTC model from a JSON config (see
// model/training/training_config.h) into OUT: checkpoints/, model.asrmodel (best by
// dev CER), train_log.jsonl (every progress event), config.json.
//   asr-train --config CONFIG.json --out DIR [--resume] [--threads N] [--audio-root DIR]
//   asr-train --print-config-reference   (every config field, its default and meaning, as Markdown)
// A progress bar on a terminal, plain log lines otherwise. SIGINT/SIGTERM
// stop within one step after writing a checkpoint (exit 130); rerun with
// --resume to continue. Exit codes: 0 done, 1 failed (retrying may help), 2 bad
// usage, config or data (it will not), 130 stopped by a signal.
//
// Several processes (and hosts) train one model together when a launcher
// sets torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// ...) or Slurm's (SLURM_PROCID, SLURM_NTASKS with MASTER_ADDR/PORT):
//   torchrun --nproc_per_node 2 -r 2 -t 2 --log_dir LOGS --no_python asr-train --config C --out DIR --resume
// Every rank gets the same arguments and sees the same DIR; rank 0 prints
// progress and writes DIR (collective.h, trainer.h).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "model/base/fields_json.h"
#include "model/compute_threads.h"
#include "model/training/collective.h"
#include "model/training/trainer.h"

namespace {

std::atomic<bool> g_cancel{false};
void OnSignal(int) { g_cancel.store(true); }

std::string Duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", t / 60, t % 60);
  }
  return buf;
}

// Renders progress events: one rewritten line on a terminal, log lines otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty) {}
  void operator()(const asr::ProgressEvent& e) {
    using Kind = asr::ProgressEvent::Kind;
    if (e.kind == Kind::kStep) {
      const double frac = e.total_steps ? std::min(1.0, static_cast<double>(e.step) / e.total_steps) : 0;
      char line[256];
      if (tty_) {
        const int width = 24, filled = static_cast<int>(frac * width);
        std::string bar(static_cast<size_t>(filled), '#');
        bar.resize(width, '.');
        std::snprintf(line, sizeof(line),
                      "\r[%s] %3.0f%% ep %lld/%lld step %lld loss %.3f lr %.1e %.0f fps ETA %s   ",
                      bar.c_str(), frac * 100, static_cast<long long>(e.epoch + 1),
                      static_cast<long long>(e.total_epochs), static_cast<long long>(e.step), e.loss,
                      e.learning_rate, e.frames_per_second, Duration(e.eta_seconds).c_str());
        std::fputs(line, stderr);
        pending_newline_ = true;
      } else {
        std::snprintf(line, sizeof(line),
                      "step %lld/%lld epoch %lld loss %.4f lr %.2e frames/s %.0f eta %s elapsed %s\n",
                      static_cast<long long>(e.step), static_cast<long long>(e.total_steps),
                      static_cast<long long>(e.epoch + 1), e.loss, e.learning_rate, e.frames_per_second,
                      Duration(e.eta_seconds).c_str(), Duration(e.elapsed_seconds).c_str());
        std::fputs(line, stderr);
      }
      return;
    }
    NewLine();
    switch (e.kind) {
      case Kind::kValidation:
        std::fprintf(stderr, "validation after epoch %lld (step %lld): loss %.4f CER %.2f%% WER %.2f%%%s\n",
                     static_cast<long long>(e.epoch + 1), static_cast<long long>(e.step), e.dev_loss,
                     100 * e.dev_cer, 100 * e.dev_wer, e.is_best ? "  (best so far)" : "");
        break;
      case Kind::kCheckpoint:
        std::fprintf(stderr, "checkpoint %s\n", e.checkpoint_path.c_str());
        break;
      default:
        std::fprintf(stderr, "%s\n", e.message.c_str());
    }
  }
  void NewLine() {
    if (pending_newline_) std::fputc('\n', stderr);
    pending_newline_ = false;
  }

 private:
  bool tty_;
  bool pending_newline_ = false;
};

// Every field of the training config with its default and meaning, from
// the structs' Fields() lists (docs/training.md holds this output).
std::string ConfigReference() {
  std::string out = "| field | default | meaning |\n| --- | --- | --- |\n" +
                    asr::fields::ReferenceRows(asr::TrainingConfig{});
  // MFCC features add or change these (the rest are as for fbank).
  asr::FeatureOptions mfcc;
  mfcc.type = asr::FeatureType::kMfcc;
  const std::string fbank_rows = asr::fields::ReferenceRows(asr::FeatureOptions{}, "model.features");
  out += "\nWith `model.features.type` `\"mfcc\"`, these fields are added or have other defaults:\n\n";
  out += "| field | default | meaning |\n| --- | --- | --- |\n";
  for (absl::string_view row : absl::StrSplit(asr::fields::ReferenceRows(mfcc, "model.features"), '\n')) {
    // "| `name` | `default`": the same name and default as for fbank are not repeated.
    const absl::string_view name_and_default = row.substr(0, row.find("` | ", row.find("` | `") + 5) + 1);
    if (!row.empty() && fbank_rows.find(std::string(name_and_default)) == std::string::npos) {
      absl::StrAppend(&out, row, "\n");
    }
  }
  return out;
}

}  // namespace

int Main(int argc, char** argv) {
  std::string config_path, out_dir;
  bool resume = false, reference = false;
  int threads = -1;
  double collective_timeout = 300;
  CLI::App app{"asr-train: trains an LN-LSTM CTC speech recognizer"};
  auto* print_reference = app.add_flag("--print-config-reference", reference,
                                       "print every config field with its default, and exit");
  app.add_option("--config", config_path, "training config JSON")->excludes(print_reference);
  app.add_option("--out", out_dir, "output directory")->excludes(print_reference);
  app.add_flag("--resume", resume, "continue from the newest valid checkpoint in OUT/checkpoints");
  std::string audio_root;
  app.add_option("--audio-root", audio_root,
                 "manifest audio must lie under this directory (the server passes its data root)");
  app.add_option("--threads", threads,
                 "LibTorch + BLAS threads (overrides train.threads; 0 = half the cores)");
  app.add_option("--collective-timeout", collective_timeout,
                 "seconds a rank waits for its peers (joining, and every collective) before failing")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  std::string backend_name = "auto";
  app.add_option("--collective-backend", backend_name,
                 "process group backend: auto (nccl when train.device is cuda and this build has NCCL, "
                 "else gloo), gloo or nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (reference) {
    std::fputs(ConfigReference().c_str(), stdout);
    return 0;
  }
  if (config_path.empty() || out_dir.empty()) {
    std::fprintf(stderr, "asr-train: --config and --out are required\n%s", app.help().c_str());
    return 2;
  }
  auto config = asr::TrainingConfig::Load(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "asr-train: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (threads >= 0) config->train.threads = threads;
  if (!audio_root.empty()) config->audio_root = audio_root;
  auto world = asr::WorldFromEnvironment();
  if (!world.ok()) {
    std::fprintf(stderr, "asr-train: %s\n", std::string(world.status().message()).c_str());
    return 2;
  }
  std::unique_ptr<asr::Collective> collective;
  if (world->has_value() && (*world)->world_size > 1) {
    asr::CollectiveBackend backend = config->train.device == asr::Device::kCuda && asr::NcclAvailable()
                                         ? asr::CollectiveBackend::kNccl
                                         : asr::CollectiveBackend::kGloo;
    if (backend_name != "auto") backend = *asr::ParseCollectiveBackend(backend_name);
    if (backend == asr::CollectiveBackend::kNccl && config->train.device != asr::Device::kCuda) {
      std::fprintf(stderr,
                   "asr-train: --collective-backend nccl needs train.device cuda (NCCL moves GPU memory)\n");
      return 2;
    }
    auto joined = asr::JoinProcessGroup(
        **world, std::chrono::milliseconds(static_cast<int64_t>(collective_timeout * 1000)), backend);
    if (!joined.ok()) {
      std::fprintf(stderr, "asr-train: %s\n", std::string(joined.status().message()).c_str());
      return 1;
    }
    collective = std::move(*joined);
    std::fprintf(stderr, "asr-train: joined as %s over %s\n", (*world)->ToString().c_str(),
                 asr::CollectiveBackendName(backend));
  }
  const bool rank0 = collective == nullptr || collective->rank() == 0;
  asr::ConfigureAllocatorForTraining();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  ProgressPrinter printer(isatty(STDERR_FILENO));
  asr::ProgressCallback progress;
  if (rank0) progress = std::ref(printer);  // the other ranks report only errors and their end
  absl::StatusOr<std::unique_ptr<asr::Trainer>> trainer;
  try {
    trainer = asr::Trainer::Create(*config, out_dir, resume, progress, collective.get());
  } catch (const std::exception& e) {  // e.g. a model larger than memory (or RLIMIT_AS) allows
    const std::string what = e.what();
    std::string limit;
    if (rlimit r{}; getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
      limit = " (this process may map " + std::to_string(r.rlim_cur >> 20) + " MiB: RLIMIT_AS)";
    }
    trainer =
        absl::ResourceExhaustedError("cannot build the model: " + what.substr(0, what.find('\n')) + limit);
  }
  if (!trainer.ok()) {
    printer.NewLine();
    std::fprintf(stderr, "asr-train: %s\n", std::string(trainer.status().message()).c_str());
    // Problems with the config or the data (2) are not cured by retrying;
    // the rest (a lost peer, I/O) may be.
    switch (trainer.status().code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kPermissionDenied:
        return 2;
      default:
        return 1;
    }
  }
  if (rank0) std::fprintf(stderr, "asr-train: %s\n", asr::ComputeKernelsSummary().c_str());
  auto result = (*trainer)->Run(&g_cancel);
  printer.NewLine();
  if (!result.ok()) {
    std::fprintf(stderr, "asr-train: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  if (!rank0) {
    std::fprintf(stderr, "asr-train: rank %d: %s after %lld steps\n", collective->rank(),
                 asr::fields::NameOf(result->stop_reason), static_cast<long long>(result->steps));
    return result->stop_reason == asr::StopReason::kCancelled ? 130 : 0;
  }
  std::fprintf(stderr,
               "asr-train: %s after %lld steps (%s); best dev CER %.2f%% WER %.2f%% at step %lld; "
               "step %lld (export_model %s) -> %s\n",
               asr::fields::NameOf(result->stop_reason), static_cast<long long>(result->steps),
               Duration(result->elapsed_seconds).c_str(), 100 * result->best_dev_cer,
               100 * result->best_dev_wer, static_cast<long long>(result->best_step),
               static_cast<long long>(result->exported_step),
               asr::fields::NameOf((*trainer)->config().train.export_model), result->model_path.c_str());
  return result->stop_reason == asr::StopReason::kCancelled ? 130 : 0;
}

int main(int argc, char** argv) {
  const int code = Main(argc, argv);
  // Without exit handlers: after an allocation failure under RLIMIT_AS,
  // OpenBLAS's exit handler joins a thread that retries its buffer
  // allocation forever, and the process would hang instead of exiting.
  std::fflush(nullptr);
  std::_Exit(code);
}
