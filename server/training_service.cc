#include "server/training_service.h"

#include <deque>
#include <fstream>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/base/sha256.h"
#include "server/grpc_status.h"
#include "spdlog/spdlog.h"

namespace asr::server {
namespace {

// Finishes a unary call: auth first, then `body` (which returns an
// absl::Status and fills the response).
template <class Body>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const Authenticator* auth, Body&& body) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status st = auth->Check(ctx);
  if (st.ok()) st = ToGrpc(body());
  reactor->Finish(st);
  return reactor;
}

class UploadReactor : public grpc::ServerReadReactor<asr::v1::UploadDatasetRequest> {
 public:
  UploadReactor(grpc::CallbackServerContext* ctx, const Authenticator* auth, std::string data_root,
                UploadLimits limits, JobStore* store, TrainingMetrics* metrics, asr::v1::Dataset* response)
      : upload_(std::move(data_root), limits, store), metrics_(metrics), response_(response) {
    if (grpc::Status st = auth->Check(ctx); !st.ok()) {
      Finish(st);
      return;
    }
    StartRead(&part_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // client closed its side
      auto d = upload_.Finish();
      metrics_->OnUploadBytes(static_cast<double>(upload_.bytes_received()));
      if (d.ok()) {
        *response_ = *d;
        spdlog::info("dataset {} ('{}') uploaded: {} files, {} bytes", d->id(), d->name(), d->files(),
                     d->bytes());
      } else {
        spdlog::info("UploadDataset refused: {}", d.status().ToString());
      }
      Finish(ToGrpc(d.status()));
      return;
    }
    if (absl::Status st = upload_.Accept(part_); !st.ok()) {
      spdlog::info("UploadDataset refused: {}", st.ToString());
      metrics_->OnUploadBytes(static_cast<double>(upload_.bytes_received()));
      Finish(ToGrpc(st));
      return;
    }
    StartRead(&part_);
  }
  void OnCancel() override {}
  void OnDone() override { delete this; }

 private:
  DatasetUpload upload_;
  TrainingMetrics* metrics_;
  asr::v1::Dataset* response_;
  asr::v1::UploadDatasetRequest part_;
};

// Streams a published model: its record, then its file in 1 MiB chunks,
// one write at a time. The file is checked against the recorded SHA-256
// before the first byte goes out (DATA_LOSS otherwise).
class GetModelReactor : public grpc::ServerWriteReactor<asr::v1::GetModelResponse> {
 public:
  GetModelReactor(grpc::CallbackServerContext* ctx, const Authenticator* auth, ModelRegistry* models,
                  const asr::v1::GetModelRequest& req) {
    if (grpc::Status st = auth->Check(ctx); !st.ok()) {
      Finish(st);
      return;
    }
    auto found = models->Locate(req.name(), req.version());
    if (!found.ok()) {
      Finish(ToGrpc(found.status()));
      return;
    }
    const auto& [version, path] = *found;
    const std::string label = absl::StrCat(version.name(), ":", version.version());
    auto hash = Sha256FileHex(path);
    if (!hash.ok() || (!version.sha256().empty() && *hash != version.sha256())) {
      Finish(ToGrpc(absl::DataLossError(
          absl::StrCat("model ", label, ": ",
                       hash.ok() ? "its file no longer matches its SHA-256" : hash.status().message()))));
      return;
    }
    in_.open(path, std::ios::binary);
    *part_.mutable_model() = version;
    if (part_.model().sha256().empty()) part_.mutable_model()->set_sha256(*hash);
    spdlog::info("GetModel {}: streaming '{}'", label, path);
    StartWrite(&part_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    buf_.resize(1 << 20);
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    if (in_.gcount() <= 0) {
      Finish(in_.eof() ? grpc::Status::OK
                       : grpc::Status(grpc::StatusCode::DATA_LOSS, "model file: read failed"));
      return;
    }
    part_.set_chunk(buf_.data(), static_cast<size_t>(in_.gcount()));
    StartWrite(&part_);
  }
  void OnDone() override { delete this; }

 private:
  std::ifstream in_;
  std::vector<char> buf_;
  asr::v1::GetModelResponse part_;
};

class WatchReactor : public grpc::ServerWriteReactor<asr::v1::JobEvent> {
 public:
  WatchReactor(grpc::CallbackServerContext* ctx, const Authenticator* auth, JobManager* jobs,
               std::string job_id, int64_t after)
      : jobs_(jobs), job_id_(std::move(job_id)), last_(after) {
    if (grpc::Status st = auth->Check(ctx); !st.ok()) {
      Finish(st);
      return;
    }
    if (auto job = jobs_->Get(job_id_); !job.ok()) {
      Finish(ToGrpc(job.status()));
      return;
    }
    listener_ = jobs_->AddListener(job_id_, [this] { Pump(); });
    Pump();
  }
  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
        return;
      }
      last_ = pending_.front().sequence();
      pending_.pop_front();
    }
    Pump();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }
  void OnDone() override {
    if (listener_) jobs_->RemoveListener(listener_);
    delete this;
  }

 private:
  // Sends the next stored event, or finishes when the job is over.
  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || finished_) return;
    if (pending_.empty()) {
      auto job = jobs_->Get(job_id_);
      auto events = jobs_->store()->EventsAfter(job_id_, last_, 256);
      if (!events.ok() || !job.ok()) {
        FinishLocked(ToGrpc(!events.ok() ? events.status() : job.status()));
        return;
      }
      pending_.assign(events->begin(), events->end());
      if (pending_.empty()) {
        if (IsTerminal(job->state()) && TerminalEventSentLocked()) FinishLocked(grpc::Status::OK);
        return;  // otherwise a listener call resumes us
      }
    }
    writing_ = true;
    StartWrite(&pending_.front());
  }
  // JobManager::Record stores the job's new state before appending its
  // state event: a terminal job is over for this watcher only once the
  // event at last_ (sequences are 1, 2, ...) is that terminal state event.
  bool TerminalEventSentLocked() {
    if (last_ <= 0) return false;
    auto e = jobs_->store()->EventsAfter(job_id_, last_ - 1, 1);
    return e.ok() && !e->empty() && e->front().has_state() && IsTerminal(e->front().state());
  }
  void FinishLocked(const grpc::Status& st) {
    if (finished_) return;
    finished_ = true;
    Finish(st);
  }

  JobManager* jobs_;
  const std::string job_id_;
  int64_t listener_ = 0;
  std::mutex mu_;
  int64_t last_;                             // guarded by mu_
  std::deque<asr::v1::JobEvent> pending_;    // guarded by mu_
  bool writing_ = false, finished_ = false;  // guarded by mu_
};

}  // namespace

grpc::ServerReadReactor<asr::v1::UploadDatasetRequest>* TrainingService::UploadDataset(
    grpc::CallbackServerContext* ctx, asr::v1::Dataset* response) {
  return new UploadReactor(ctx, auth_, data_root_, limits_, jobs_->store(), metrics_, response);
}

grpc::ServerUnaryReactor* TrainingService::ListDatasets(grpc::CallbackServerContext* ctx,
                                                        const asr::v1::ListDatasetsRequest*,
                                                        asr::v1::ListDatasetsResponse* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto d = jobs_->store()->ListDatasets();
    if (!d.ok()) return d.status();
    for (auto& x : *d) *resp->add_datasets() = std::move(x);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::CreateTrainingJob(grpc::CallbackServerContext* ctx,
                                                             const asr::v1::CreateTrainingJobRequest* req,
                                                             asr::v1::Job* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto job = jobs_->Create(req->config(), req->dataset(), req->resources());
    if (!job.ok()) {
      spdlog::info("CreateTrainingJob refused: {}", job.status().ToString());
      return job.status();
    }
    *resp = std::move(*job);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::GetJob(grpc::CallbackServerContext* ctx,
                                                  const asr::v1::GetJobRequest* req, asr::v1::Job* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto job = jobs_->Get(req->job_id());
    if (!job.ok()) return job.status();
    *resp = std::move(*job);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::ListJobs(grpc::CallbackServerContext* ctx,
                                                    const asr::v1::ListJobsRequest* req,
                                                    asr::v1::ListJobsResponse* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto page = jobs_->List(req->state(), req->page_size(), req->page_token());
    if (!page.ok()) return page.status();
    for (auto& j : page->first) *resp->add_jobs() = std::move(j);
    resp->set_next_page_token(page->second);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::CancelJob(grpc::CallbackServerContext* ctx,
                                                     const asr::v1::CancelJobRequest* req,
                                                     asr::v1::Job* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto job = jobs_->Cancel(req->job_id());
    if (!job.ok()) return job.status();
    *resp = std::move(*job);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::DeleteJob(grpc::CallbackServerContext* ctx,
                                                     const asr::v1::DeleteJobRequest* req,
                                                     asr::v1::DeleteJobResponse*) {
  return Unary(ctx, auth_, [&] { return jobs_->Delete(req->job_id()); });
}

grpc::ServerUnaryReactor* TrainingService::ListCheckpoints(grpc::CallbackServerContext* ctx,
                                                           const asr::v1::ListCheckpointsRequest* req,
                                                           asr::v1::ListCheckpointsResponse* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto c = jobs_->Checkpoints(req->job_id());
    if (!c.ok()) return c.status();
    for (auto& x : *c) *resp->add_checkpoints() = std::move(x);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<asr::v1::JobEvent>* TrainingService::WatchJob(grpc::CallbackServerContext* ctx,
                                                                       const asr::v1::WatchJobRequest* req) {
  return new WatchReactor(ctx, auth_, jobs_, req->job_id(), req->after_sequence());
}

grpc::ServerWriteReactor<asr::v1::GetModelResponse>* TrainingService::GetModel(
    grpc::CallbackServerContext* ctx, const asr::v1::GetModelRequest* req) {
  return new GetModelReactor(ctx, auth_, models_, *req);
}

grpc::ServerUnaryReactor* TrainingService::PublishModel(grpc::CallbackServerContext* ctx,
                                                        const asr::v1::PublishModelRequest* req,
                                                        asr::v1::ModelVersion* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto m = jobs_->Publish(req->job_id(), req->name(), req->step());
    if (!m.ok()) {
      spdlog::info("PublishModel refused: {}", m.status().ToString());
      return m.status();
    }
    spdlog::info("model {}:{} published from job {} (step {})", m->name(), m->version(), req->job_id(),
                 m->step());
    *resp = std::move(*m);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrainingService::ListModels(grpc::CallbackServerContext* ctx,
                                                      const asr::v1::ListModelsRequest* req,
                                                      asr::v1::ListModelsResponse* resp) {
  return Unary(ctx, auth_, [&]() -> absl::Status {
    auto m = models_->List(req->name());
    if (!m.ok()) return m.status();
    for (auto& x : *m) *resp->add_models() = std::move(x);
    return absl::OkStatus();
  });
}

}  // namespace asr::server
