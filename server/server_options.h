// Configuration of asr-server: every option once, with its flag, its ASR_*
// environment variable, unit and default, in the Fields() list of the
// struct it belongs to: the server's own, then each service's. Filled from
// flags, an optional TOML/INI config file and the environment (see
// server/tools/asr_server_main.cc); validated before anything starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/base/fields.h"

namespace asr::server {

// asr.v1.TrainingService: the job queue and dataset uploads.
struct TrainingServiceOptions {
  int max_concurrent_jobs = 1;              // jobs run at the same time (each with the server's threads)
  int64_t max_upload_mb = 4096;             // per dataset upload, MiB
  int64_t max_upload_files = 200000;        // per dataset upload
  std::string worker_binary;                // asr-train; "" = the one next to asr-server
  int max_processes_per_job = 8;            // JobResources.processes
  int max_job_failures = 3;                 // failed launches before a job is FAILED
  double worker_stop_grace_seconds = 60;    // after SIGTERM (cancel, shutdown), then SIGKILL
  double collective_timeout_seconds = 120;  // a rank waits this long for its peers
  std::string runner = "local";             // local | slurm
  std::string slurm_sbatch_args;            // added to every sbatch, split at spaces
  int64_t job_memory_limit_mb = 0;  // per job: admission estimate and resident memory; 0 = physical memory

  // OK, or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v(fields::Flag("max_concurrent_jobs", "--max-concurrent-jobs", "ASR_MAX_CONCURRENT_JOBS",
                   "training jobs run at the same time"),
      s.max_concurrent_jobs);
    v(fields::Flag("max_upload_mb", "--max-upload-mb", "ASR_MAX_UPLOAD_MB", "largest dataset upload, MiB"),
      s.max_upload_mb);
    v(fields::Flag("max_upload_files", "--max-upload-files", "ASR_MAX_UPLOAD_FILES",
                   "most files in one dataset upload"),
      s.max_upload_files);
    v(fields::Flag("worker_binary", "--worker-binary", "ASR_WORKER_BINARY",
                   "the asr-train executable jobs run as; empty = the one next to asr-server"),
      s.worker_binary);
    v(fields::Flag("max_processes_per_job", "--max-processes-per-job", "ASR_MAX_PROCESSES_PER_JOB",
                   "most worker processes (ranks) one job may ask for"),
      s.max_processes_per_job);
    v(fields::Flag("max_job_failures", "--max-job-failures", "ASR_MAX_JOB_FAILURES",
                   "launches whose workers fail (crash, OOM kill, lost peer) before the job is FAILED"),
      s.max_job_failures);
    v(fields::Flag("worker_stop_grace_seconds", "--worker-stop-grace", "ASR_WORKER_STOP_GRACE",
                   "seconds workers get to checkpoint after SIGTERM before SIGKILL"),
      s.worker_stop_grace_seconds);
    v(fields::Flag("collective_timeout_seconds", "--collective-timeout", "ASR_COLLECTIVE_TIMEOUT",
                   "seconds a worker waits for its peers before failing"),
      s.collective_timeout_seconds);
    v(fields::Flag("runner", "--runner", "ASR_RUNNER",
                   "where jobs' workers run: local (processes on this host) or slurm (sbatch + srun)"),
      s.runner);
    v(fields::Flag("slurm_sbatch_args", "--slurm-sbatch-args", "ASR_SLURM_SBATCH_ARGS",
                   "with --runner slurm: arguments added to every sbatch, e.g. \"--partition gpu\""),
      s.slurm_sbatch_args);
    v(fields::Flag("job_memory_limit_mb", "--job-memory-limit-mb", "ASR_JOB_MEMORY_LIMIT_MB",
                   "a job's estimated memory must fit, and its workers are killed when their resident "
                   "memory exceeds it, MiB; 0 = this host's physical memory"),
      s.job_memory_limit_mb);
  }
};

// asr.v1.RecognitionService: streams, batching, unary Recognize, models.
struct RecognitionServiceOptions {
  int max_streams = 200;                    // concurrent streams; more get RESOURCE_EXHAUSTED
  double max_stream_seconds = 3600;         // audio per stream
  double stream_idle_timeout_seconds = 30;  // without progress either way this long a stream is closed
  double stream_backlog_seconds = 10;       // undecoded audio per stream before the server stops reading it
  int max_batch = 64;                       // streams per batched LSTM step; 1 = no cross-stream batching
  double max_batch_wait_ms = 5;             // how long a ready input may wait for company
  int recognize_workers = 2;                // threads serving unary Recognize
  // "name=path" model files to publish at start-up when `name` has no
  // version yet (e.g. a model shipped with a deployment).
  std::vector<std::string> import_models;

  // OK, or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v(fields::Flag("max_streams", "--max-streams", "ASR_MAX_STREAMS", "concurrent recognition streams"),
      s.max_streams);
    v(fields::Flag("max_stream_seconds", "--max-stream-seconds", "ASR_MAX_STREAM_SECONDS",
                   "audio per stream, seconds"),
      s.max_stream_seconds);
    v(fields::Flag("stream_idle_timeout_seconds", "--stream-idle-timeout", "ASR_STREAM_IDLE_TIMEOUT",
                   "close streams idle this long, seconds"),
      s.stream_idle_timeout_seconds);
    v(fields::Flag(
          "stream_backlog_seconds", "--stream-backlog-seconds", "ASR_STREAM_BACKLOG_SECONDS",
          "undecoded audio per stream beyond which the server stops reading it (backpressure), seconds"),
      s.stream_backlog_seconds);
    v(fields::Flag("max_batch", "--max-batch", "ASR_MAX_BATCH",
                   "streams per batched LSTM step (1 = no cross-stream batching)"),
      s.max_batch);
    v(fields::Flag("max_batch_wait_ms", "--max-batch-wait-ms", "ASR_MAX_BATCH_WAIT_MS",
                   "how long a ready input waits for company, ms"),
      s.max_batch_wait_ms);
    v(fields::Flag("recognize_workers", "--recognize-workers", "ASR_RECOGNIZE_WORKERS",
                   "threads serving unary Recognize"),
      s.recognize_workers);
    v(fields::Flag("import_models", "--import-model", "ASR_IMPORT_MODELS",
                   "NAME=PATH: publish this model file at start-up if NAME is new"),
      s.import_models);
  }
};

struct ServerOptions {
  // gRPC listening address, host:port. Port 0 picks a free port (written to
  // ready_file). Use 0.0.0.0:PORT only where the network is trusted (Docker).
  std::string listen = "127.0.0.1:50051";
  // Prometheus exposer address, host:port, serving /metrics; empty disables.
  std::string metrics_listen = "127.0.0.1:9464";
  std::string state_dir = "asr-state";  // durable server state (job store, checkpoints, published models)
  // The job store: empty = SQLite in state_dir (one server); a
  // postgresql://user@host:port/db URI = PostgreSQL (replicas may share
  // it). Its password comes from database_password_file or the
  // ASR_DATABASE_PASSWORD environment variable, never from a flag or the
  // URI in a process list.
  std::string database;
  std::string database_password_file;
  // Published model files, content-addressed; replicas share it (a
  // ReadWriteMany volume). Empty = state_dir/models.
  std::string model_store;
  std::string data_root = "asr-data";  // datasets; every path in a request is confined here
  // Training jobs' directories (checkpoints, logs, exported models). Empty
  // = state_dir/jobs. Replicas share it, and the data root, so that any of
  // them can resume or publish a job another ran.
  std::string jobs_dir;
  // This server's name among replicas sharing a job store; empty = the host
  // name (a pod's name). Two live servers must not share one.
  std::string replica_name;
  // A replica that has not renewed its lease in the job store for this long
  // loses its running jobs to the others (which resume them from their
  // newest checkpoint); it stops their workers itself first. Seconds.
  double replica_lease_seconds = 30;
  int threads = 0;                 // LibTorch intra-op + BLAS threads; 0 = half the cores, at least 1
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
  // Seconds in-flight RPCs get to finish after SIGINT/SIGTERM before they
  // are cancelled; the process exits 0 after at most about this long.
  double shutdown_grace_seconds = 10.0;
  // If set, written atomically once serving: {"grpc_port":N,"metrics_port":M,"pid":P}.
  std::string ready_file;
  std::string auth_token_file;    // a bearer token; when set every RPC but health needs it
  std::string tls_cert, tls_key;  // PEM certificate chain and key; both = TLS, neither = plaintext
  int max_message_mb = 16;        // largest gRPC message accepted, MiB
  // Connections older than this are asked to close (GOAWAY) so that
  // long-lived clients reconnect and spread over replicas added since;
  // calls in flight get recognition.max_stream_seconds to finish. 0 = never.
  double max_connection_age_seconds = 0;
  TrainingServiceOptions training;
  RecognitionServiceOptions recognition;

  // OK, or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
  // Every field as `name=value`, one per line (services' as "training.x").
  std::string ToString() const { return fields::ToString(*this, "\n"); }

  template <class S, class V>
  static void Fields(S& s, V& v) {
    v(fields::Flag("listen", "--listen", "ASR_LISTEN", "gRPC address host:port (port 0 = any free port)"),
      s.listen);
    v(fields::Flag("metrics_listen", "--metrics-listen", "ASR_METRICS_LISTEN",
                   "Prometheus /metrics address host:port; empty disables"),
      s.metrics_listen);
    v(fields::Flag("state_dir", "--state-dir", "ASR_STATE_DIR",
                   "directory for job store and published models"),
      s.state_dir);
    v(fields::Flag("database", "--database", "ASR_DATABASE",
                   "job store: empty = SQLite in the state dir; postgresql://user@host:port/db = PostgreSQL"),
      s.database);
    v(fields::Flag("database_password_file", "--database-password-file", "ASR_DATABASE_PASSWORD_FILE",
                   "file holding the PostgreSQL password (or set ASR_DATABASE_PASSWORD)"),
      s.database_password_file);
    v(fields::Flag("model_store", "--model-store", "ASR_MODEL_STORE",
                   "directory of published model files, shared by replicas; empty = STATE_DIR/models"),
      s.model_store);
    v(fields::Flag("data_root", "--data-root", "ASR_DATA_ROOT",
                   "directory holding datasets; request paths are confined to it"),
      s.data_root);
    v(fields::Flag("jobs_dir", "--jobs-dir", "ASR_JOBS_DIR",
                   "training jobs' directories, shared by replicas; empty = STATE_DIR/jobs"),
      s.jobs_dir);
    v(fields::Flag("replica_name", "--replica-name", "ASR_REPLICA_NAME",
                   "this server's name among replicas sharing a database; empty = the host name"),
      s.replica_name);
    v(fields::Flag("replica_lease_seconds", "--replica-lease", "ASR_REPLICA_LEASE",
                   "seconds a replica may go silent in the database before others take its running jobs"),
      s.replica_lease_seconds);
    v(fields::Flag("threads", "--threads", "ASR_THREADS", "LibTorch + BLAS threads; 0 = half the cores"),
      s.threads);
    v(fields::Flag("log_level", "--log-level", "ASR_LOG_LEVEL", "trace|debug|info|warn|error|critical|off"),
      s.log_level);
    v(fields::Flag("shutdown_grace_seconds", "--shutdown-grace", "ASR_SHUTDOWN_GRACE",
                   "seconds in-flight RPCs get after SIGTERM"),
      s.shutdown_grace_seconds);
    v(fields::Flag("ready_file", "--ready-file", "ASR_READY_FILE",
                   "write {\"grpc_port\",\"metrics_port\",\"pid\"} JSON here once serving"),
      s.ready_file);
    v(fields::Flag("auth_token_file", "--auth-token-file", "ASR_AUTH_TOKEN_FILE",
                   "require this bearer token on every RPC but health"),
      s.auth_token_file);
    v(fields::Flag("tls_cert", "--tls-cert", "ASR_TLS_CERT",
                   "PEM certificate chain (with --tls-key: serve TLS)"),
      s.tls_cert);
    v(fields::Flag("tls_key", "--tls-key", "ASR_TLS_KEY", "PEM private key"), s.tls_key);
    v(fields::Flag("max_message_mb", "--max-message-mb", "ASR_MAX_MESSAGE_MB",
                   "largest gRPC message accepted, MiB"),
      s.max_message_mb);
    v(fields::Flag("max_connection_age_seconds", "--max-connection-age", "ASR_MAX_CONNECTION_AGE",
                   "close connections older than this (clients rebalance over replicas), seconds; 0 = never"),
      s.max_connection_age_seconds);
    v({"training", "asr.v1.TrainingService"}, s.training);
    v({"recognition", "asr.v1.RecognitionService"}, s.recognition);
  }
};

// Splits "host:port" (IPv6 as "[::1]:port"); false if malformed or the port
// is not in [0, 65535].
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace asr::server
