#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/compute_threads.h"
#include "model/recognizer/stream_batcher.h"
#include "server/auth.h"
#include "server/info_service.h"
#include "server/job_manager.h"
#include "server/job_store.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/paths.h"
#include "server/recognition_metrics.h"
#include "server/recognition_service.h"
#include "server/slurm_runner.h"
#include "server/training_metrics.h"
#include "server/training_service.h"
#include "spdlog/spdlog.h"

namespace asr::server {
namespace {

// A small text file an option names (PEM, a password).
absl::StatusOr<std::string> ReadOptionFile(const std::string& path, const char* field) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses the PEM certificate and key with OpenSSL, as gRPC will, so that a
// bad file is named here rather than failing the listener without a word.
absl::Status CheckKeyPair(const ServerOptions& o, const std::string& cert_pem, const std::string& key_pem) {
  const auto bio = [](const std::string& pem) {
    return std::unique_ptr<BIO, decltype(&BIO_free)>(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  };
  auto cert_bio = bio(cert_pem), key_bio = bio(key_pem);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert)
    return absl::InvalidArgumentError(absl::StrCat("tls_cert: '", o.tls_cert, "' holds no PEM certificate"));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls_key: '", o.tls_key, "' holds no PEM private key (or one protected by a passphrase)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_key: '", o.tls_key, "' is not the key of the certificate in '", o.tls_cert, "'"));
  }
  ERR_clear_error();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadOptionFile(o.tls_cert, "tls_cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadOptionFile(o.tls_key, "tls_key");
  if (!key.ok()) return key.status();
  if (absl::Status st = CheckKeyPair(o, *cert, *key); !st.ok()) return st;
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Server::Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  std::unique_ptr<Server> s(new Server());
  s->options_ = options;
  std::error_code ec;
  const std::string model_store =
      options.model_store.empty() ? options.state_dir + "/models" : options.model_store;
  const std::string jobs_dir = options.jobs_dir.empty() ? options.state_dir + "/jobs" : options.jobs_dir;
  for (const std::string& dir :
       {options.state_dir, options.data_root, model_store, jobs_dir, options.data_root + "/datasets"}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create '", dir, "': ", ec.message()));
  }
  auto auth = Authenticator::FromFile(options.auth_token_file);
  if (!auth.ok()) return auth.status();
  s->auth_ = std::make_unique<Authenticator>(std::move(*auth));
  auto creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  auto metrics = MetricsEndpoint::Start(options.metrics_listen);
  if (!metrics.ok()) return metrics.status();
  s->metrics_ = std::move(*metrics);
  std::string password;
  if (!options.database_password_file.empty()) {
    auto pw = ReadOptionFile(options.database_password_file, "database_password_file");
    if (!pw.ok()) return pw.status();
    password = std::string(absl::StripTrailingAsciiWhitespace(*pw));
  } else if (const char* env = std::getenv("ASR_DATABASE_PASSWORD")) {
    password = env;
  }
  auto store = JobStore::Open(
      options.database.empty() ? options.state_dir + "/jobs.sqlite" : options.database, password);
  if (!store.ok()) return store.status();
  spdlog::info("job store: {}, schema version {}", (*store)->backend(), (*store)->schema_version());
  s->store_ = std::move(*store);
  s->models_ = std::make_unique<ModelRegistry>(s->store_.get(), model_store);
  // Uploads and publications a crash interrupted (jobs: JobManager::Start).
  std::vector<std::string> leftovers = RemoveInterruptedWrites(options.data_root + "/datasets");
  for (const auto& model_dir : std::filesystem::directory_iterator(model_store, ec)) {
    for (std::string& path : RemoveInterruptedWrites(model_dir.path().string())) leftovers.push_back(path);
  }
  for (const std::string& path : leftovers) spdlog::info("removed '{}', left by an interrupted write", path);
  s->CreateServices();
  if (absl::Status st = s->Serve(*creds); !st.ok()) return st;
  if (absl::Status st = s->ImportModels(); !st.ok()) return st;
  if (absl::Status st = s->jobs_->Start(); !st.ok()) return st;
  s->grpc_server_->GetHealthCheckService()->SetServingStatus(true);
  s->database_watch_ = std::thread([server = s.get()] { server->WatchDatabase(); });
  return s;
}

void Server::CreateServices() {
  const ServerOptions& o = options_;
  training_metrics_ = std::make_unique<TrainingMetrics>(metrics_->registry());
  JobManagerOptions jm;
  jm.jobs_dir = o.jobs_dir.empty() ? o.state_dir + "/jobs" : o.jobs_dir;
  jm.replica_name = o.replica_name;
  jm.lease_seconds = o.replica_lease_seconds;
  jm.data_root = std::filesystem::absolute(o.data_root).string();
  jm.max_concurrent_jobs = o.training.max_concurrent_jobs;
  jm.compute_threads = ResolveComputeThreads(o.threads);
  jm.worker_binary = o.training.worker_binary;
  if (jm.worker_binary.empty()) {  // asr-train next to this executable
    std::error_code ec;
    jm.worker_binary =
        (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "asr-train").string();
  }
  jm.max_processes_per_job = o.training.max_processes_per_job;
  jm.max_failures = o.training.max_job_failures;
  jm.worker_stop_grace_seconds = o.training.worker_stop_grace_seconds;
  jm.collective_timeout_seconds = o.training.collective_timeout_seconds;
  jm.job_memory_limit_bytes = o.training.job_memory_limit_mb > 0
                                  ? o.training.job_memory_limit_mb << 20
                                  : static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (o.training.runner == "slurm") {
    runner_ = std::make_unique<SlurmRunner>(
        absl::StrSplit(o.training.slurm_sbatch_args, ' ', absl::SkipWhitespace()));
  } else {
    runner_ = std::make_unique<LocalRunner>(o.training.worker_stop_grace_seconds);
  }
  jobs_ =
      std::make_unique<JobManager>(store_.get(), models_.get(), training_metrics_.get(), runner_.get(), jm);
  UploadLimits limits;
  limits.max_bytes = o.training.max_upload_mb << 20;
  limits.max_files = o.training.max_upload_files;
  training_service_ = std::make_unique<TrainingService>(jobs_.get(), models_.get(), training_metrics_.get(),
                                                        auth_.get(), jm.data_root, limits);

  const RecognitionServiceOptions& ro = o.recognition;
  recognition_metrics_ = std::make_unique<RecognitionMetrics>(metrics_->registry());
  batcher_ = std::make_unique<StreamBatcher>(BatcherOptions{ro.max_batch, ro.max_batch_wait_ms},
                                             recognition_metrics_.get());
  StreamLimits stream_limits;
  stream_limits.max_stream_seconds = ro.max_stream_seconds;
  stream_limits.max_backlog_seconds = ro.stream_backlog_seconds;
  stream_limits.max_chunk_bytes = static_cast<int64_t>(o.max_message_mb) << 20;
  recognition_service_ = std::make_unique<RecognitionService>(
      models_.get(), batcher_.get(), recognition_metrics_.get(), auth_.get(), ro, stream_limits);
  info_service_ = std::make_unique<InfoService>(auth_.get());
}

absl::Status Server::Serve(const std::shared_ptr<grpc::ServerCredentials>& creds) {
  grpc::EnableDefaultHealthCheckService(true);
  // Reflection serves the schema only. It stays open with auth on: gRPC's
  // plugin registers itself at static initialization and cannot check tokens.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT and a second server on a busy port
  // would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A fixed per-stream receive window: what gRPC buffers for a stream the
  // server has stopped reading (backpressure) stays within it. BDP probing
  // would grow it to tens of MiB on a fast link.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  if (options_.max_connection_age_seconds > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(options_.max_connection_age_seconds * 1000));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(options_.recognition.max_stream_seconds * 1000));
  }
  builder.SetMaxReceiveMessageSize(options_.max_message_mb << 20);
  builder.SetMaxSendMessageSize(options_.max_message_mb << 20);
  builder.AddListeningPort(options_.listen, creds, &grpc_port_);
  builder.RegisterService(info_service_.get());
  builder.RegisterService(training_service_.get());
  builder.RegisterService(recognition_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot serve gRPC on '", options_.listen, "' (address in use or not local?)"));
  }
  return absl::OkStatus();
}

absl::Status Server::ImportModels() {
  for (const std::string& m : options_.recognition.import_models) {
    const std::string name = m.substr(0, m.find('=')), path = m.substr(m.find('=') + 1);
    auto existing = models_->List(name);
    if (!existing.ok()) return existing.status();
    if (!existing->empty()) continue;
    asr::v1::ModelVersion info;
    info.set_job_id("imported:" + path);
    auto published = models_->Publish(name, path, info);
    if (!published.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("import_models: ", published.status().message()));
    }
  }
  return absl::OkStatus();
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

int Server::metrics_port() const { return metrics_->port(); }

void Server::WatchDatabase() {
  bool reachable = true;
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return watch_stop_; })) {
    lock.unlock();
    const absl::Status st = store_->CountJobs(asr::v1::RUNNING).status();
    if (st.ok() != reachable) {
      reachable = st.ok();
      grpc_server_->GetHealthCheckService()->SetServingStatus("asr.v1.TrainingService", reachable);
      if (reachable) {
        spdlog::info("job store reachable again: asr.v1.TrainingService SERVING");
      } else {
        spdlog::warn(
            "job store unreachable ({}): asr.v1.TrainingService NOT_SERVING, job calls UNAVAILABLE; "
            "recognition goes on with the models loaded",
            st.ToString());
      }
    }
    lock.lock();
  }
}

void Server::Drain() { grpc_server_->GetHealthCheckService()->SetServingStatus(false); }

void Server::Shutdown(absl::Duration grace) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || grpc_server_ == nullptr) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> watch(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (database_watch_.joinable()) database_watch_.join();
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  // Jobs checkpoint and go back to the queue (for another replica) while
  // calls finish: the shutdown takes the longer of the two, not their sum.
  std::thread jobs([this] { jobs_->Stop(); });
  // Streams still open shortly before the deadline end with UNAVAILABLE,
  // which a client retries (through a balancer, on another replica), rather
  // than being cut off as CANCELLED at the deadline.
  const absl::Time deadline = absl::Now() + grace;
  const absl::Duration margin = std::min(grace / 4, absl::Seconds(2));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread closer([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (margin <= absl::ZeroDuration() ||
        cv.wait_until(lock, absl::ToChronoTime(deadline - margin), [&] { return done; })) {
      return;
    }
    lock.unlock();
    spdlog::info("ending the streams still open with UNAVAILABLE before the shutdown deadline");
    recognition_service_->EndStreams(absl::UnavailableError(
        "the server is shutting down; open the stream again (another replica takes it)"));
  });
  grpc_server_->Shutdown(absl::ToChronoTime(deadline));
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  closer.join();
  jobs.join();
  grpc_server_->Wait();
}

}  // namespace asr::server
