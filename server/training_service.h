// asr.v1.TrainingService over the gRPC callback API: unary RPCs answer
// from the JobManager; UploadDataset is a read reactor feeding a
// DatasetUpload; WatchJob is a write reactor that replays stored events
// after the requested sequence and then follows new ones, one outstanding
// write at a time, finishing when the job is terminal and caught up.
#pragma once

#include "asr/v1/training.grpc.pb.h"
#include "server/auth.h"
#include "server/dataset_upload.h"
#include "server/job_manager.h"
#include "server/training_metrics.h"

namespace asr::server {

class TrainingService final : public asr::v1::TrainingService::CallbackService {
 public:
  TrainingService(JobManager* jobs, ModelRegistry* models, TrainingMetrics* metrics,
                  const Authenticator* auth, std::string data_root, UploadLimits limits)
      : jobs_(jobs),
        models_(models),
        metrics_(metrics),
        auth_(auth),
        data_root_(std::move(data_root)),
        limits_(limits) {}

  grpc::ServerReadReactor<asr::v1::UploadDatasetRequest>* UploadDataset(grpc::CallbackServerContext* ctx,
                                                                        asr::v1::Dataset* response) override;
  grpc::ServerUnaryReactor* ListDatasets(grpc::CallbackServerContext* ctx,
                                         const asr::v1::ListDatasetsRequest* req,
                                         asr::v1::ListDatasetsResponse* resp) override;
  grpc::ServerUnaryReactor* CreateTrainingJob(grpc::CallbackServerContext* ctx,
                                              const asr::v1::CreateTrainingJobRequest* req,
                                              asr::v1::Job* resp) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* ctx, const asr::v1::GetJobRequest* req,
                                   asr::v1::Job* resp) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* ctx, const asr::v1::ListJobsRequest* req,
                                     asr::v1::ListJobsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* ctx, const asr::v1::CancelJobRequest* req,
                                      asr::v1::Job* resp) override;
  grpc::ServerUnaryReactor* DeleteJob(grpc::CallbackServerContext* ctx, const asr::v1::DeleteJobRequest* req,
                                      asr::v1::DeleteJobResponse* resp) override;
  grpc::ServerUnaryReactor* ListCheckpoints(grpc::CallbackServerContext* ctx,
                                            const asr::v1::ListCheckpointsRequest* req,
                                            asr::v1::ListCheckpointsResponse* resp) override;
  grpc::ServerWriteReactor<asr::v1::JobEvent>* WatchJob(grpc::CallbackServerContext* ctx,
                                                        const asr::v1::WatchJobRequest* req) override;
  grpc::ServerUnaryReactor* PublishModel(grpc::CallbackServerContext* ctx,
                                         const asr::v1::PublishModelRequest* req,
                                         asr::v1::ModelVersion* resp) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const asr::v1::ListModelsRequest* req,
                                       asr::v1::ListModelsResponse* resp) override;
  grpc::ServerWriteReactor<asr::v1::GetModelResponse>* GetModel(grpc::CallbackServerContext* ctx,
                                                                const asr::v1::GetModelRequest* req) override;

 private:
  JobManager* jobs_;
  ModelRegistry* models_;
  TrainingMetrics* metrics_;
  const Authenticator* auth_;
  std::string data_root_;
  UploadLimits limits_;
};

}  // namespace asr::server
