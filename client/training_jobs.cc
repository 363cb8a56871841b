// Upload and Watch: see training_jobs.h.
#include "client/training_jobs.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "client/watch_printer.h"
#include "model/base/sha256.h"

namespace asr::client {
namespace {

namespace fs = std::filesystem;

}  // namespace

std::unique_ptr<asr::v1::TrainingService::Stub> TrainingStub(const ConnectionOptions& conn) {
  return asr::v1::TrainingService::NewStub(MakeChannel(conn));
}

std::string StateName(asr::v1::JobState state) {
  std::string n = asr::v1::JobState_Name(state);
  return n == "JOB_STATE_UNSPECIFIED" ? "-" : n;
}

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
  auto stub = TrainingStub(conn);
  auto writer = stub->UploadDataset(ctx.get(), &dataset);
  asr::v1::UploadDatasetRequest req;
  req.mutable_begin()->set_name(name.empty() ? fs::path(dir).filename().string() : name);
  bool ok = writer->Write(req);
  const bool tty = isatty(STDERR_FILENO) && !conn.json;
  int64_t sent = 0;
  std::vector<char> buf(1 << 20);
  for (size_t i = 0; ok && i < files.size(); ++i) {
    auto sha = Sha256FileHex(files[i]);
    if (!sha.ok()) {
      std::fprintf(stderr, "asr-client: upload: %s\n", std::string(sha.status().message()).c_str());
      ok = false;
      break;
    }
    std::error_code ec;
    req.Clear();
    req.mutable_file()->set_path(fs::relative(files[i], dir).string());
    req.mutable_file()->set_size(static_cast<int64_t>(fs::file_size(files[i], ec)));
    req.mutable_file()->set_sha256(*sha);
    ok = writer->Write(req);
    std::ifstream in(files[i], std::ios::binary);
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

int Watch(const ConnectionOptions& conn, const std::string& job_id) {
  WatchPrinter printer(isatty(STDERR_FILENO), conn.json, stderr, stdout);
  int64_t last = 0;
  double backoff = 0.5;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (true) {
    auto ctx = MakeContext(conn, /*deadline=*/false);
    asr::v1::WatchJobRequest req;
    req.set_job_id(job_id);
    req.set_after_sequence(last);
    auto stub = TrainingStub(conn);
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
  const grpc::Status st = TrainingStub(conn)->GetJob(ctx.get(), get, &job);
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

}  // namespace asr::client
