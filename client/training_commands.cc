// asr-client commands of the training service: upload, datasets, train,
// jobs, watch, cancel, delete, checkpoints, publish, models (and models
// download). One function
// registers each; unary calls go through CallAndPrint (connection.h).
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/training_jobs.h"
#include "model/base/sha256.h"
#include "nlohmann/json.hpp"

namespace asr::client {
namespace {

namespace fs = std::filesystem;
using Stub = asr::v1::TrainingService::Stub;

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

// "12.34%", or "-" for a rate that was never measured (negative).
std::string Percent(double rate) {
  if (rate < 0) return "-";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100 * rate);
  return buf;
}

void PrintJobRow(const asr::v1::Job& j) {
  char cer[16] = "-";
  if (j.has_best()) std::snprintf(cer, sizeof(cer), "%.2f%%", 100 * j.best().cer());
  std::printf("%-18s %-10s %8lld/%-8lld %8s  %s\n", j.id().c_str(), StateName(j.state()).c_str(),
              static_cast<long long>(j.progress().step()), static_cast<long long>(j.progress().total_steps()),
              cer, google::protobuf::util::TimeUtil::ToString(j.create_time()).substr(0, 19).c_str());
}

void AddUpload(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("upload", "upload a dataset directory (manifests + audio) to the server");
  auto dir = std::make_shared<std::string>(), name = std::make_shared<std::string>();
  cmd->add_option("dir", *dir, "directory with *.jsonl manifests and the audio they reference")->required();
  cmd->add_option("--name", *name, "label (default: the directory name)");
  cmd->callback([&conn, exit_code, dir, name] {
    std::string id;
    *exit_code = Upload(conn, *dir, *name, &id, stdout);
  });
}

void AddDatasets(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("datasets", "list uploaded datasets");
  cmd->callback([&conn, exit_code] {
    *exit_code =
        CallAndPrint(conn, "datasets", *TrainingStub(conn), &Stub::ListDatasets,
                     asr::v1::ListDatasetsRequest(), [](const asr::v1::ListDatasetsResponse& resp) {
                       for (const auto& d : resp.datasets()) {
                         std::printf("%-16s %-20s %8lld files %10.1f MiB\n", d.id().c_str(), d.name().c_str(),
                                     static_cast<long long>(d.files()), d.bytes() / 1048576.0);
                       }
                     });
  });
}

struct TrainArgs {
  std::string config, dataset, manifest, dev_manifest, upload;
  int processes = 0, threads_per_process = 0;
  bool watch = false;
};

// Submits the job `a` describes; returns the exit code.
int Train(const ConnectionOptions& conn, TrainArgs a) {
  asr::v1::CreateTrainingJobRequest req;
  if (!LoadConfig(a.config, req.mutable_config())) return 2;
  if (!a.upload.empty()) {
    if (const int rc = Upload(conn, a.upload, "", &a.dataset, stderr); rc != 0) return rc;
  }
  req.mutable_dataset()->set_dataset_id(a.dataset);
  if (!a.manifest.empty()) {
    req.mutable_dataset()->set_train_manifest(a.manifest);
    req.mutable_dataset()->set_dev_manifest(a.dev_manifest.empty()
                                                ? (fs::path(a.manifest).parent_path() / "dev.jsonl").string()
                                                : a.dev_manifest);
  } else if (!a.dev_manifest.empty()) {
    req.mutable_dataset()->set_dev_manifest(a.dev_manifest);
  }
  req.mutable_resources()->set_processes(a.processes);
  req.mutable_resources()->set_threads_per_process(a.threads_per_process);
  auto ctx = MakeContext(conn);
  asr::v1::Job job;
  const grpc::Status st = TrainingStub(conn)->CreateTrainingJob(ctx.get(), req, &job);
  if (!st.ok()) return ReportFailure("train", st);
  std::printf("%s\n", conn.json ? ToJsonLine(job).c_str() : job.id().c_str());
  std::fflush(stdout);
  return a.watch ? Watch(conn, job.id()) : 0;
}

void AddTrain(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("train", "submit a training job (and --watch it)");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("--config", a->config, "training config JSON (asr-train's format)")->required();
  auto* g = cmd->add_option_group("data", "where the data comes from")->require_option(1);
  g->add_option("--dataset", a->dataset, "id of an uploaded dataset");
  g->add_option("--manifest", a->manifest, "train manifest path under the server's data root");
  g->add_option("--upload", a->upload, "upload this directory first, then train on it");
  cmd->add_option("--dev-manifest", a->dev_manifest,
                  "dev manifest (default: dev.jsonl beside the train manifest)");
  cmd->add_option("--processes", a->processes,
                  "worker processes (ranks) the job trains on; 0 = 1 (the server caps it)");
  cmd->add_option("--threads-per-process", a->threads_per_process,
                  "compute threads of each worker; 0 = the server's --threads");
  cmd->add_flag("--watch", a->watch, "follow the job until it ends");
  cmd->callback([&conn, exit_code, a] { *exit_code = Train(conn, *a); });
}

void AddJobs(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("jobs", "list training jobs, newest first");
  auto state = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(50);
  cmd->add_option("--state", *state, "QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED");
  cmd->add_option("--limit", *limit, "jobs to show")->capture_default_str();
  cmd->callback([&conn, exit_code, state, limit] {
    asr::v1::ListJobsRequest req;
    asr::v1::JobState s = asr::v1::JOB_STATE_UNSPECIFIED;
    if (!state->empty() && !asr::v1::JobState_Parse(absl::AsciiStrToUpper(*state), &s)) {
      std::fprintf(stderr,
                   "asr-client: jobs: unknown state '%s' (QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED)\n",
                   state->c_str());
      *exit_code = 2;
      return;
    }
    req.set_state(s);
    req.set_page_size(*limit);
    *exit_code = CallAndPrint(
        conn, "jobs", *TrainingStub(conn), &Stub::ListJobs, req, [](const asr::v1::ListJobsResponse& resp) {
          std::printf("%-18s %-10s %17s %8s  %s\n", "JOB", "STATE", "STEP", "BEST CER", "CREATED (UTC)");
          for (const auto& j : resp.jobs()) PrintJobRow(j);
        });
  });
}

void AddWatch(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("watch", "follow a job live (reattaches after dropped connections)");
  auto job = std::make_shared<std::string>();
  cmd->add_option("job", *job, "job id")->required();
  cmd->callback([&conn, exit_code, job] { *exit_code = Watch(conn, *job); });
}

void AddCancel(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("cancel", "cancel a job");
  auto job = std::make_shared<std::string>();
  cmd->add_option("job", *job, "job id")->required();
  cmd->callback([&conn, exit_code, job] {
    asr::v1::CancelJobRequest req;
    req.set_job_id(*job);
    *exit_code = CallAndPrint(conn, "cancel " + *job, *TrainingStub(conn), &Stub::CancelJob, req,
                              [&](const asr::v1::Job&) { std::printf("cancelling %s\n", job->c_str()); });
  });
}

void AddDelete(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("delete", "delete a job");
  auto job = std::make_shared<std::string>();
  cmd->add_option("job", *job, "job id")->required();
  cmd->callback([&conn, exit_code, job] {
    asr::v1::DeleteJobRequest req;
    req.set_job_id(*job);
    ConnectionOptions quiet = conn;
    quiet.json = false;  // the response is empty: nothing to print but the line below
    *exit_code = CallAndPrint(quiet, "delete " + *job, *TrainingStub(conn), &Stub::DeleteJob, req,
                              [&](const asr::v1::DeleteJobResponse&) {
                                if (!conn.json) std::printf("deleted %s\n", job->c_str());
                              });
  });
}

void AddCheckpoints(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("checkpoints", "list a job's checkpoints");
  auto job = std::make_shared<std::string>();
  cmd->add_option("job", *job, "job id")->required();
  cmd->callback([&conn, exit_code, job] {
    asr::v1::ListCheckpointsRequest req;
    req.set_job_id(*job);
    *exit_code =
        CallAndPrint(conn, "checkpoints " + *job, *TrainingStub(conn), &Stub::ListCheckpoints, req,
                     [](const asr::v1::ListCheckpointsResponse& resp) {
                       std::printf("%8s %6s %8s %8s %10s\n", "STEP", "EPOCH", "DEV CER", "DEV WER", "SIZE");
                       for (const auto& c : resp.checkpoints()) {
                         std::printf("%8lld %6lld %8s %8s %6.1f MiB%s\n", static_cast<long long>(c.step()),
                                     static_cast<long long>(c.epoch()), Percent(c.dev_cer()).c_str(),
                                     Percent(c.dev_wer()).c_str(), c.size_bytes() / 1048576.0,
                                     c.is_best() ? "  best" : "");
                       }
                     });
  });
}

void AddPublish(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "publish",
      "publish a job's exported model (best on dev, or last: train.export_model) or --step checkpoint");
  auto req = std::make_shared<asr::v1::PublishModelRequest>();
  cmd->add_option_function<std::string>(
         "job", [req](const std::string& v) { req->set_job_id(v); }, "job id")
      ->required();
  cmd->add_option_function<std::string>(
         "name", [req](const std::string& v) { req->set_name(v); }, "model name")
      ->required();
  cmd->add_option_function<int64_t>(
      "--step", [req](int64_t v) { req->set_step(v); },
      "publish this checkpoint instead of the exported model");
  cmd->callback([&conn, exit_code, req] {
    *exit_code = CallAndPrint(conn, "publish " + req->job_id(), *TrainingStub(conn), &Stub::PublishModel,
                              *req, [](const asr::v1::ModelVersion& m) {
                                std::printf("%s version %d (job %s, step %lld, dev CER %s, WER %s)\n",
                                            m.name().c_str(), m.version(), m.job_id().c_str(),
                                            static_cast<long long>(m.step()), Percent(m.dev_cer()).c_str(),
                                            Percent(m.dev_wer()).c_str());
                              });
  });
}

// `models download NAME[:VERSION] [--out FILE]`: GetModel into a file,
// checked against the version's SHA-256.
int DownloadModel(const ConnectionOptions& conn, const std::string& spec, std::string out) {
  asr::v1::GetModelRequest req;
  const size_t colon = spec.rfind(':');
  int version = 0;
  if (colon != std::string::npos && (!absl::SimpleAtoi(spec.substr(colon + 1), &version) || version <= 0)) {
    std::fprintf(stderr, "asr-client: models download: '%s' is not NAME or NAME:VERSION (VERSION >= 1)\n",
                 spec.c_str());
    return 2;
  }
  req.set_name(spec.substr(0, colon));
  req.set_version(version);
  auto ctx = MakeContext(conn, /*deadline=*/false);
  auto reader = TrainingStub(conn)->GetModel(ctx.get(), req);
  asr::v1::GetModelResponse part;
  asr::v1::ModelVersion info;
  Sha256 hash;
  std::string partial;
  std::ofstream file;
  while (reader->Read(&part)) {
    if (part.has_model()) {
      info = part.model();
      if (out.empty()) out = absl::StrCat(info.name(), "-v", info.version(), ".asrmodel");
      partial = out + ".part";
      file.open(partial, std::ios::binary | std::ios::trunc);
      if (!file) {
        std::fprintf(stderr, "asr-client: models download: cannot write '%s'\n", partial.c_str());
        ctx->TryCancel();
        break;
      }
      continue;
    }
    hash.Update(part.chunk().data(), part.chunk().size());
    file.write(part.chunk().data(), static_cast<std::streamsize>(part.chunk().size()));
  }
  const grpc::Status st = reader->Finish();
  file.close();
  std::error_code ec;
  if (!st.ok() || !file || info.name().empty()) {
    if (!partial.empty()) fs::remove(partial, ec);
    return st.ok() ? 1 : ReportFailure("models download " + spec, st);
  }
  if (const std::string got = hash.HexDigest(); got != info.sha256()) {
    fs::remove(partial, ec);
    std::fprintf(stderr,
                 "asr-client: models download: %s:%d arrived with SHA-256 %s, not %s; nothing written\n",
                 info.name().c_str(), info.version(), got.c_str(), info.sha256().c_str());
    return 1;
  }
  fs::rename(partial, out, ec);
  if (ec) {
    std::fprintf(stderr, "asr-client: models download: cannot write '%s': %s\n", out.c_str(),
                 ec.message().c_str());
    return 1;
  }
  if (conn.json) {
    std::printf("%s\n", ToJsonLine(info).c_str());
  } else {
    std::printf("%s:%d -> %s (%lld bytes, sha256 %s)\n", info.name().c_str(), info.version(), out.c_str(),
                static_cast<long long>(fs::file_size(out, ec)), info.sha256().c_str());
  }
  return 0;
}

void AddModels(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  auto* cmd = app.add_subcommand("models", "list published model versions (or download one)");
  auto req = std::make_shared<asr::v1::ListModelsRequest>();
  cmd->add_option_function<std::string>(
      "--name", [req](const std::string& v) { req->set_name(v); }, "only this model");
  auto* download =
      cmd->add_subcommand("download", "write a published model file here (checked by its SHA-256)");
  auto spec = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  download->add_option("model", *spec, "NAME or NAME:VERSION (default the latest)")->required();
  download->add_option("--out", *out, "file to write (default NAME-vVERSION.asrmodel)");
  download->callback([&conn, exit_code, spec, out] { *exit_code = DownloadModel(conn, *spec, *out); });
  cmd->callback([&conn, exit_code, req, download] {
    if (download->parsed()) return;
    *exit_code = CallAndPrint(
        conn, "models", *TrainingStub(conn), &Stub::ListModels, *req,
        [](const asr::v1::ListModelsResponse& resp) {
          std::printf("%-20s %7s %-18s %8s %8s %8s\n", "MODEL", "VERSION", "JOB", "STEP", "DEV CER",
                      "DEV WER");
          for (const auto& m : resp.models()) {
            std::printf("%-20s %7d %-18s %8lld %8s %8s%s\n", m.name().c_str(), m.version(),
                        m.job_id().c_str(), static_cast<long long>(m.step()), Percent(m.dev_cer()).c_str(),
                        Percent(m.dev_wer()).c_str(), m.streaming() ? "" : "  (offline only)");
          }
        });
  });
}

}  // namespace

void AddTrainingCommands(CLI::App& app, const ConnectionOptions& conn, int* exit_code) {
  AddUpload(app, conn, exit_code);
  AddDatasets(app, conn, exit_code);
  AddTrain(app, conn, exit_code);
  AddJobs(app, conn, exit_code);
  AddWatch(app, conn, exit_code);
  AddCancel(app, conn, exit_code);
  AddDelete(app, conn, exit_code);
  AddCheckpoints(app, conn, exit_code);
  AddPublish(app, conn, exit_code);
  AddModels(app, conn, exit_code);
}

}  // namespace asr::client
