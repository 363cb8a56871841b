// The long-running halves of `asr-client` training commands: uploading a
// dataset directory and following a job's events to its end. Used by
// `upload`, `train --upload` and `train --watch`, `watch`.
#pragma once

#include <cstdio>
#include <string>

#include "asr/v1/training.grpc.pb.h"
#include "client/connection.h"

namespace asr::client {

// A stub of the training service on a new channel to conn.server.
std::unique_ptr<asr::v1::TrainingService::Stub> TrainingStub(const ConnectionOptions& conn);

// "QUEUED", "RUNNING", ...; "-" when unspecified.
std::string StateName(asr::v1::JobState state);

// Streams every file under `dir` (with its SHA-256) as one dataset named
// `name` (default: the directory's name), drawing progress on a terminal,
// and reports the dataset on `report` (stdout for `upload`; stderr for
// `train --upload`, whose stdout carries only the job). Sets *dataset_id.
// Returns the exit code.
int Upload(const ConnectionOptions& conn, const std::string& dir, const std::string& name,
           std::string* dataset_id, FILE* report);

// Follows a job's events until it ends, drawing a progress bar on a
// terminal (step, loss, learning rate, frames/s, best dev CER, ETA) and
// log lines otherwise, reattaching after dropped connections from the last
// event seen. Exit code from the final state: 0 SUCCEEDED, 3 CANCELLED, 1
// otherwise.
int Watch(const ConnectionOptions& conn, const std::string& job_id);

}  // namespace asr::client
