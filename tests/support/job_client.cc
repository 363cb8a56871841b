#include "tests/support/job_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/corpus.h"

namespace asr::testing {

std::unique_ptr<asr::v1::TrainingService::Stub> TrainingStub(const ServerProcess& s) {
  return asr::v1::TrainingService::NewStub(
      grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials()));
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

void PlaceCorpus(const ServerProcess& s, const std::string& name) {
  std::filesystem::copy(TinyCorpus(), s.data_root + "/" + name, std::filesystem::copy_options::recursive);
}

asr::v1::Job GetJob(const ServerProcess& s, const std::string& id) {
  grpc::ClientContext ctx;
  asr::v1::GetJobRequest req;
  req.set_job_id(id);
  asr::v1::Job job;
  EXPECT_TRUE(TrainingStub(s)->GetJob(&ctx, req, &job).ok());
  return job;
}

bool WaitFor(const ServerProcess& s, const std::string& id,
             const std::function<bool(const asr::v1::Job&)>& pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(GetJob(s, id))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::vector<asr::v1::JobEvent> AllEvents(const ServerProcess& s, const std::string& id, int64_t after) {
  grpc::ClientContext ctx;
  asr::v1::WatchJobRequest req;
  req.set_job_id(id);
  req.set_after_sequence(after);
  auto reader = TrainingStub(s)->WatchJob(&ctx, req);
  std::vector<asr::v1::JobEvent> out;
  asr::v1::JobEvent e;
  while (reader->Read(&e)) out.push_back(e);
  EXPECT_TRUE(reader->Finish().ok());
  return out;
}

std::vector<pid_t> WorkerPids(const ServerProcess& s, const std::string& id) {
  const std::string handle = ReadFileOrEmpty(s.state_dir + "/jobs/" + id + "/workers");
  std::vector<pid_t> pids;
  if (handle.rfind("local:", 0) != 0) return pids;
  for (size_t at = 6; at < handle.size();) {
    const size_t slash = handle.find('/', at);
    if (slash == std::string::npos) break;
    pids.push_back(std::stoi(handle.substr(at, slash - at)));
    const size_t comma = handle.find(',', slash);
    at = comma == std::string::npos ? handle.size() : comma + 1;
  }
  return pids;
}

bool WaitUntilGone(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos || text.compare(paren + 2, 1, "Z") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace asr::testing
