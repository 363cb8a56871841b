// Test support: a training job on a ServerProcess seen from outside, over
// TrainingService and the job's directory (its workers' pids).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asr/v1/training.grpc.pb.h"
#include "tests/support/server_process.h"

namespace asr::testing {

std::unique_ptr<asr::v1::TrainingService::Stub> TrainingStub(const ServerProcess& s);

// The first line of `s` (e.g. the job id `asr-client train` prints).
std::string FirstLine(const std::string& s);

// Copies the tiny corpus into the server's data root under `name`.
void PlaceCorpus(const ServerProcess& s, const std::string& name);

// GetJob; a failed call is a test failure (and an empty job).
asr::v1::Job GetJob(const ServerProcess& s, const std::string& id);

// Waits until `pred(job)` holds (polling GetJob) or `seconds` pass.
bool WaitFor(const ServerProcess& s, const std::string& id,
             const std::function<bool(const asr::v1::Job&)>& pred, double seconds);

// Every event of job `id` after sequence `after` (WatchJob of an ended
// job returns them all and finishes).
std::vector<asr::v1::JobEvent> AllEvents(const ServerProcess& s, const std::string& id, int64_t after = 0);

// The pids of the job's running workers, rank order, from the runner's
// handle in STATE/jobs/<id>/workers ("local:PID/TICKS,..."); empty when
// none run.
std::vector<pid_t> WorkerPids(const ServerProcess& s, const std::string& id);

// Whether process `pid` (not necessarily our child) ended within `seconds`.
bool WaitUntilGone(pid_t pid, double seconds);

}  // namespace asr::testing
