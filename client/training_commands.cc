// asr-client commands of the training service: upload, datasets, train,
// jobs, watch, cancel, delete, checkpoints, publish, models.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "asr/v1/training.grpc.pb.h"
#include "client/commands.h"
#include "model/base/sha256.h"
#include "nlohmann/json.hpp"

namespace asr::client {
namespace {

namespace fs = std::filesystem;
using asr::v1::TrainingService;

std::unique_ptr<TrainingService::Stub> Stub(const ConnectionOptions& conn) {
  return TrainingService::NewStub(MakeChannel(conn));
}

std::string Hms(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  std::snprintf(buf, sizeof(buf), t >= 3600 ? "%dh%02dm" : "%dm%02ds", t >= 3600 ? t / 3600 : t / 60,
                t >= 3600 ? t / 60 % 60 : t % 60);
  return buf;
}

std::string StateName(asr::v1::JobState s) {
  std::string n = asr::v1::JobState_Name(s);
  return n == "JOB_STATE_UNSPECIFIED" ? "-" : n;
}

// Streams every file under `dir` (with its SHA-256) as one dataset and
// reports it on `report` (stdout for `upload`; stderr for `train --upload`,
// whose stdout carries only the job).
int Upload(const ConnectionOptions& conn, const std::string& dir, const std::string& name,
           std::string* dataset_id, FILE* report) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  if (ec || files.empty()) {
    std::fprintf(stderr, "asr-client: upload: no files under '%s'\n", dir.c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  auto ctx = MakeContext(conn, /*deadline=*/false);
  asr::v1::Dataset dataset;
  auto stub = Stub(conn);
  auto writer = stub->UploadDataset(ctx.get(), &dataset);
  asr::v1::UploadDatasetRequest req;
  req.mutable_begin()->set_name(name.empty() ? fs::path(dir).filename().string() : name);
  bool ok = writer->Write(req);
  const bool tty = isatty(STDERR_FILENO) && !conn.json;
  int64_t sent = 0;
  std::vector<char> buf(1 << 20);
  for (size_t i = 0; ok && i < files.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    Sha256 sha;
    int64_t size = 0;
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
      sha.Update(buf.data(), static_cast<size_t>(in.gcount()));
      size += in.gcount();
    }
    req.Clear();
    req.mutable_file()->set_path(fs::relative(files[i], dir).string());
    req.mutable_file()->set_size(size);
    req.mutable_file()->set_sha256(sha.HexDigest());
    ok = writer->Write(req);
    in.clear();
    in.seekg(0);
    while (ok && (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)) {
      req.Clear();
      req.set_chunk(buf.data(), static_cast<size_t>(in.gcount()));
      ok = writer->Write(req);
      sent += in.gcount();
    }
    if (tty) std::fprintf(stderr, "\rupload: %zu/%zu files, %.1f MiB", i + 1, files.size(), sent / 1048576.0);
  }
  if (ok) {
    req.Clear();
    req.mutable_end();
    writer->Write(req);
  }
  writer->WritesDone();
  if (tty) std::fputc('\n', stderr);
  const grpc::Status st = writer->Finish();
  if (!st.ok()) return ReportFailure("upload of " + dir, st);
  if (conn.json) {
    std::fprintf(report, "%s\n", ToJsonLine(dataset).c_str());
  } else {
    std::fprintf(report, "dataset %s: %lld files, %.1f MiB", dataset.id().c_str(),
                 static_cast<long long>(dataset.files()), dataset.bytes() / 1048576.0);
    for (const auto& [m, n] : dataset.utterances()) {
      std::fprintf(report, ", %s %lld utterances", m.c_str(), static_cast<long long>(n));
    }
    std::fprintf(report, "\n");
  }
  *dataset_id = dataset.id();
  return 0;
}

// Renders job events: a rewritten progress line on a terminal, log lines otherwise.
class WatchPrinter {
 public:
  WatchPrinter(bool tty, bool json) : tty_(tty), json_(json) {}
  void Print(const asr::v1::JobEvent& e) {
    if (json_) {
      std::printf("%s\n", ToJsonLine(e).c_str());
      std::fflush(stdout);
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
      std::fprintf(stderr,
                   tty_ ? "\r[%s] %3.0f%% epoch %lld/%lld step %lld loss %.3f CER %s ETA %s   "
                        : "[%s] %3.0f%% epoch %lld/%lld step %lld loss %.3f CER %s ETA %s\n",
                   bar.c_str(), 100 * frac, static_cast<long long>(p.epoch() + 1),
                   static_cast<long long>(p.total_epochs()), static_cast<long long>(p.step()), p.loss(), cer,
                   Hms(p.eta_seconds()).c_str());
      dirty_ = tty_;
      return;
    }
    Line();
    if (e.has_validation()) {
      const auto& v = e.validation();
      if (v.is_best()) best_cer_ = v.cer();
      std::fprintf(stderr, "validation epoch %lld step %lld: CER %.2f%% WER %.2f%%%s\n",
                   static_cast<long long>(v.epoch() + 1), static_cast<long long>(v.step()), 100 * v.cer(),
                   100 * v.wer(), v.is_best() ? " (best)" : "");
    } else if (e.has_checkpoint_saved()) {
      std::fprintf(stderr, "checkpoint at step %lld\n", static_cast<long long>(e.checkpoint_saved().step()));
    } else if (e.has_state()) {
      std::fprintf(stderr, "state %s\n", StateName(e.state()).c_str());
    } else if (e.has_error()) {
      std::fprintf(stderr, "error: %s\n", e.error().c_str());
    } else {
      std::fprintf(stderr, "%s\n", e.message().c_str());
    }
  }
  void Line() {
    if (dirty_) std::fputc('\n', stderr);
    dirty_ = false;
  }

 private:
  bool tty_, json_, dirty_ = false;
  double best_cer_ = -1;
};

// Follows a job's events until it ends, reattaching after dropped
// connections from the last sequence seen. Exit code from the final state.
int Watch(const ConnectionOptions& conn, const std::string& job_id) {
  WatchPrinter printer(isatty(STDERR_FILENO), conn.json);
  int64_t last = 0;
  double backoff = 0.5;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (true) {
    auto ctx = MakeContext(conn, /*deadline=*/false);
    asr::v1::WatchJobRequest req;
    req.set_job_id(job_id);
    req.set_after_sequence(last);
    auto stub = Stub(conn);
    auto reader = stub->WatchJob(ctx.get(), req);
    asr::v1::JobEvent e;
    while (reader->Read(&e)) {
      last = e.sequence();
      backoff = 0.5;
      give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
      printer.Print(e);
    }
    const grpc::Status st = reader->Finish();
    if (st.ok()) break;
    const bool transient = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           st.error_code() == grpc::StatusCode::CANCELLED ||
                           st.error_code() == grpc::StatusCode::INTERNAL;
    if (!transient || std::chrono::steady_clock::now() > give_up) {
      printer.Line();
      return ReportFailure("watch " + job_id, st);
    }
    printer.Line();
    std::fprintf(stderr, "asr-client: connection lost (%s); reattaching after event %lld\n",
                 Describe(st).c_str(), static_cast<long long>(last));
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, 5.0);
  }
  printer.Line();
  auto ctx = MakeContext(conn);
  asr::v1::GetJobRequest get;
  get.set_job_id(job_id);
  asr::v1::Job job;
  const grpc::Status st = Stub(conn)->GetJob(ctx.get(), get, &job);
  if (!st.ok()) return ReportFailure("get " + job_id, st);
  if (!conn.json) {
    std::fprintf(stderr, "job %s %s", job.id().c_str(), StateName(job.state()).c_str());
    if (job.has_best())
      std::fprintf(stderr, ": best dev CER %.2f%% WER %.2f%%", 100 * job.best().cer(),
                   100 * job.best().wer());
    if (!job.error().empty()) std::fprintf(stderr, ": %s", job.error().c_str());
    std::fprintf(stderr, "\n");
  }
  return job.state() == asr::v1::SUCCEEDED ? 0 : job.state() == asr::v1::CANCELLED ? 3 : 1;
}

// asr-train's JSON config -> asr.v1.TrainingConfig (manifest paths dropped).
bool LoadConfig(const std::string& path, asr::v1::TrainingConfig* out) {
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!in.good() && j.is_discarded()) {
    std::fprintf(stderr, "asr-client: cannot read config '%s' as JSON\n", path.c_str());
    return false;
  }
  j.erase("train_manifest");
  j.erase("dev_manifest");
  const auto st = google::protobuf::util::JsonStringToMessage(j.dump(), out);
  if (!st.ok()) {
    std::fprintf(stderr, "asr-client: config '%s': %s\n", path.c_str(), st.ToString().c_str());
    return false;
  }
  return true;
}

void PrintJobRow(const asr::v1::Job& j) {
  char cer[16] = "-";
  if (j.has_best()) std::snprintf(cer, sizeof(cer), "%.2f%%", 100 * j.best().cer());
  std::printf("%-18s %-10s %8lld/%-8lld %8s  %s\n", j.id().c_str(), StateName(j.state()).c_str(),
              static_cast<long long>(j.progress().step()), static_cast<long long>(j.progress().total_steps()),
              cer, google::protobuf::util::TimeUtil::ToString(j.create_time()).substr(0, 19).c_str());
}

}  // namespace

void AddTrainingCommands(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  {
    auto* cmd = app.add_subcommand("upload", "upload a dataset directory (manifests + audio) to the server");
    auto dir = std::make_shared<std::string>(), name = std::make_shared<std::string>();
    cmd->add_option("dir", *dir, "directory with *.jsonl manifests and the audio they reference")->required();
    cmd->add_option("--name", *name, "label (default: the directory name)");
    cmd->callback([&conn, exit_code, dir, name] {
      std::string id;
      *exit_code = Upload(conn, *dir, *name, &id, stdout);
    });
  }
  {
    auto* cmd = app.add_subcommand("datasets", "list uploaded datasets");
    cmd->callback([&conn, exit_code] {
      auto ctx = MakeContext(conn);
      asr::v1::ListDatasetsResponse resp;
      const grpc::Status st = Stub(conn)->ListDatasets(ctx.get(), {}, &resp);
      if (!st.ok()) {
        *exit_code = ReportFailure("datasets", st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(resp).c_str());
      } else {
        for (const auto& d : resp.datasets()) {
          std::printf("%-16s %-20s %8lld files %10.1f MiB\n", d.id().c_str(), d.name().c_str(),
                      static_cast<long long>(d.files()), d.bytes() / 1048576.0);
        }
      }
      *exit_code = 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("train", "submit a training job (and --watch it)");
    struct Args {
      std::string config, dataset, manifest, dev_manifest, upload;
      bool watch = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--config", a->config, "training config JSON (asr-train's format)")->required();
    auto* g = cmd->add_option_group("data", "where the data comes from")->require_option(1);
    g->add_option("--dataset", a->dataset, "id of an uploaded dataset");
    g->add_option("--manifest", a->manifest, "train manifest path under the server's data root");
    g->add_option("--upload", a->upload, "upload this directory first, then train on it");
    cmd->add_option("--dev-manifest", a->dev_manifest,
                    "dev manifest (default: dev.jsonl beside the train manifest)");
    cmd->add_flag("--watch", a->watch, "follow the job until it ends");
    cmd->callback([&conn, exit_code, a] {
      asr::v1::CreateTrainingJobRequest req;
      if (!LoadConfig(a->config, req.mutable_config())) {
        *exit_code = 2;
        return;
      }
      if (!a->upload.empty()) {
        if ((*exit_code = Upload(conn, a->upload, "", &a->dataset, stderr)) != 0) return;
      }
      req.mutable_dataset()->set_dataset_id(a->dataset);
      if (!a->manifest.empty()) {
        req.mutable_dataset()->set_train_manifest(a->manifest);
        req.mutable_dataset()->set_dev_manifest(
            a->dev_manifest.empty() ? (fs::path(a->manifest).parent_path() / "dev.jsonl").string()
                                    : a->dev_manifest);
      } else if (!a->dev_manifest.empty()) {
        req.mutable_dataset()->set_dev_manifest(a->dev_manifest);
      }
      auto ctx = MakeContext(conn);
      asr::v1::Job job;
      const grpc::Status st = Stub(conn)->CreateTrainingJob(ctx.get(), req, &job);
      if (!st.ok()) {
        *exit_code = ReportFailure("train", st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(job).c_str());
      } else {
        std::printf("%s\n", job.id().c_str());
      }
      std::fflush(stdout);
      *exit_code = a->watch ? Watch(conn, job.id()) : 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("jobs", "list training jobs, newest first");
    auto state = std::make_shared<std::string>();
    auto limit = std::make_shared<int>(50);
    cmd->add_option("--state", *state, "QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED");
    cmd->add_option("--limit", *limit, "jobs to show")->capture_default_str();
    cmd->callback([&conn, exit_code, state, limit] {
      asr::v1::ListJobsRequest req;
      asr::v1::JobState s = asr::v1::JOB_STATE_UNSPECIFIED;
      if (!state->empty() && !asr::v1::JobState_Parse(*state, &s)) {
        std::fprintf(stderr, "asr-client: jobs: unknown state '%s'\n", state->c_str());
        *exit_code = 2;
        return;
      }
      req.set_state(s);
      req.set_page_size(*limit);
      auto ctx = MakeContext(conn);
      asr::v1::ListJobsResponse resp;
      const grpc::Status st = Stub(conn)->ListJobs(ctx.get(), req, &resp);
      if (!st.ok()) {
        *exit_code = ReportFailure("jobs", st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(resp).c_str());
      } else {
        std::printf("%-18s %-10s %17s %8s  %s\n", "JOB", "STATE", "STEP", "BEST CER", "CREATED (UTC)");
        for (const auto& j : resp.jobs()) PrintJobRow(j);
      }
      *exit_code = 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("watch", "follow a job live (reattaches after dropped connections)");
    auto job = std::make_shared<std::string>();
    cmd->add_option("job", *job, "job id")->required();
    cmd->callback([&conn, exit_code, job] { *exit_code = Watch(conn, *job); });
  }
  for (const char* verb : {"cancel", "delete"}) {
    auto* cmd = app.add_subcommand(verb, std::string(verb) + " a job");
    auto job = std::make_shared<std::string>();
    const std::string v = verb;
    cmd->add_option("job", *job, "job id")->required();
    cmd->callback([&conn, exit_code, job, v] {
      auto ctx = MakeContext(conn);
      grpc::Status st;
      asr::v1::Job out;
      if (v == "cancel") {
        asr::v1::CancelJobRequest req;
        req.set_job_id(*job);
        st = Stub(conn)->CancelJob(ctx.get(), req, &out);
      } else {
        asr::v1::DeleteJobRequest req;
        req.set_job_id(*job);
        asr::v1::DeleteJobResponse resp;
        st = Stub(conn)->DeleteJob(ctx.get(), req, &resp);
      }
      if (!st.ok()) {
        *exit_code = ReportFailure(v + " " + *job, st);
        return;
      }
      if (conn.json && v == "cancel") std::printf("%s\n", ToJsonLine(out).c_str());
      if (!conn.json) std::printf("%s %s\n", v == "cancel" ? "cancelling" : "deleted", job->c_str());
      *exit_code = 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("checkpoints", "list a job's checkpoints");
    auto job = std::make_shared<std::string>();
    cmd->add_option("job", *job, "job id")->required();
    cmd->callback([&conn, exit_code, job] {
      asr::v1::ListCheckpointsRequest req;
      req.set_job_id(*job);
      auto ctx = MakeContext(conn);
      asr::v1::ListCheckpointsResponse resp;
      const grpc::Status st = Stub(conn)->ListCheckpoints(ctx.get(), req, &resp);
      if (!st.ok()) {
        *exit_code = ReportFailure("checkpoints " + *job, st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(resp).c_str());
      } else {
        for (const auto& c : resp.checkpoints()) {
          std::printf("step %-8lld epoch %-4lld %8.1f MiB%s\n", static_cast<long long>(c.step()),
                      static_cast<long long>(c.epoch()), c.size_bytes() / 1048576.0,
                      c.is_best() ? "  best" : "");
        }
      }
      *exit_code = 0;
    });
  }
  {
    auto* cmd = app.add_subcommand(
        "publish",
        "publish a job's exported model (best on dev, or last: train.export_model) or --step checkpoint");
    auto job = std::make_shared<std::string>(), name = std::make_shared<std::string>();
    auto step = std::make_shared<int64_t>(0);
    cmd->add_option("job", *job, "job id")->required();
    cmd->add_option("name", *name, "model name")->required();
    cmd->add_option("--step", *step, "publish this checkpoint instead of the exported model");
    cmd->callback([&conn, exit_code, job, name, step] {
      asr::v1::PublishModelRequest req;
      req.set_job_id(*job);
      req.set_name(*name);
      req.set_step(*step);
      auto ctx = MakeContext(conn);
      asr::v1::ModelVersion m;
      const grpc::Status st = Stub(conn)->PublishModel(ctx.get(), req, &m);
      if (!st.ok()) {
        *exit_code = ReportFailure("publish " + *job, st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(m).c_str());
      } else {
        std::printf("%s version %d (job %s, step %lld, dev CER %.2f%%)\n", m.name().c_str(), m.version(),
                    m.job_id().c_str(), static_cast<long long>(m.step()), 100 * m.dev_cer());
      }
      *exit_code = 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("models", "list published model versions");
    auto name = std::make_shared<std::string>();
    cmd->add_option("--name", *name, "only this model");
    cmd->callback([&conn, exit_code, name] {
      asr::v1::ListModelsRequest req;
      req.set_name(*name);
      auto ctx = MakeContext(conn);
      asr::v1::ListModelsResponse resp;
      const grpc::Status st = Stub(conn)->ListModels(ctx.get(), req, &resp);
      if (!st.ok()) {
        *exit_code = ReportFailure("models", st);
        return;
      }
      if (conn.json) {
        std::printf("%s\n", ToJsonLine(resp).c_str());
      } else {
        for (const auto& m : resp.models()) {
          std::printf("%-20s v%-4d job %-18s step %-7lld dev CER %6.2f%%%s\n", m.name().c_str(), m.version(),
                      m.job_id().c_str(), static_cast<long long>(m.step()), 100 * m.dev_cer(),
                      m.streaming() ? "" : "  (offline only)");
        }
      }
      *exit_code = 0;
    });
  }
}

}  // namespace asr::client
