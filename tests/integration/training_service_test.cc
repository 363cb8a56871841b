// The training half of the service, end to end: the real asr-server and
// asr-client over loopback, on the tiny synthesized corpus. Upload -> train
// -> watch -> checkpoints -> publish; cancel; kill -9 and resume, with a
// watch that reattaches; a corrupt newest checkpoint; bad configs and paths;
// authentication of every RPC; WatchJob resume by sequence number.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "asr/v1/info.pb.h"
#include "asr/v1/recognition.pb.h"
#include "asr/v1/training.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"
#include "tests/support/job_client.h"
#include "tests/support/server_process.h"

namespace asr::testing {
namespace {

namespace fs = std::filesystem;

TEST(TrainingServiceTest, UploadTrainWatchPublish) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  nlohmann::json tiny = TinyTrainingConfig(30);
  tiny["train"]["export_model"] = "last";  // published below: the weights of step 30
  const std::string config = WriteJson(tiny);
  ProcessResult up = server->Client({"--json", "upload", TinyCorpus()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const auto dataset = nlohmann::json::parse(up.out);
  EXPECT_EQ(dataset["utterances"]["train.jsonl"], 240);  // int64 as a JSON number
  ProcessResult train =
      server->Client({"train", "--config", config, "--dataset", dataset["id"], "--watch"}, 600);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  EXPECT_NE(train.err.find("state SUCCEEDED"), std::string::npos) << train.err;
  ProcessResult jobs = server->Client({"--json", "jobs"});
  ASSERT_EQ(jobs.exit_code, 0);
  EXPECT_NE(jobs.out.find("\"SUCCEEDED\""), std::string::npos) << jobs.out;
  // Global options also work after the command.
  EXPECT_EQ(server->Client({"jobs", "--json"}).out, jobs.out);
  ProcessResult ckpts = server->Client({"--json", "checkpoints", job});
  ASSERT_EQ(ckpts.exit_code, 0) << ckpts.err;
  EXPECT_GE(nlohmann::json::parse(ckpts.out)["checkpoints"].size(), 2u);
  ProcessResult pub = server->Client({"publish", job, "digits"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_NE(pub.out.find("digits version 1"), std::string::npos) << pub.out;
  ProcessResult models = server->Client({"--json", "models"});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  const nlohmann::json published = nlohmann::json::parse(models.out)["models"].at(0);
  EXPECT_EQ(published["name"], "digits");
  EXPECT_EQ(published["step"], 30);  // int64 as a JSON number
  EXPECT_EQ(server->Client({"publish", job, "Bad Name"}).exit_code, 1);
  // `train --upload DIR`: the upload report goes to stderr, stdout is only the job id.
  ProcessResult direct = server->Client({"train", "--config", config, "--upload", TinyCorpus()}, 300);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(direct.out.rfind("job-", 0), 0u) << direct.out;
  EXPECT_EQ(direct.out.find('\n'), direct.out.size() - 1) << direct.out;
  EXPECT_NE(direct.err.find("dataset ds-"), std::string::npos) << direct.err;
}

TEST(TrainingServiceTest, CancelStopsWithinAStepAndLeavesACheckpoint) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  nlohmann::json cfg = TinyTrainingConfig(100000);
  cfg["train"]["checkpoint_every_steps"] = 0;  // only the cancellation checkpoint
  ProcessResult train = server->Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.progress().step() >= 3; }, 120));
  ASSERT_EQ(server->Client({"cancel", job}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::CANCELLED; }, 60));
  EXPECT_EQ(server->Client({"watch", job}).exit_code, 3);
  ProcessResult ckpts = server->Client({"--json", "checkpoints", job});
  EXPECT_EQ(nlohmann::json::parse(ckpts.out)["checkpoints"].size(), 1u) << ckpts.out;
}

// Parses the JSON lines of `asr-client --json watch` (other lines are its
// messages on stderr) into events.
std::vector<asr::v1::JobEvent> ParseWatchOutput(const std::string& log) {
  std::vector<asr::v1::JobEvent> events;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    asr::v1::JobEvent e;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
    events.push_back(e);
  }
  return events;
}

enum class Corruption { kNone, kFlippedBytes };

// Starts a long job and an `asr-client watch` of it, waits for a checkpoint
// past step 10, kills the server with SIGKILL, optionally flips bytes in
// the middle of the newest checkpoint, restarts on the same port, and
// checks the job resumes from the right step and finishes, and that the
// watch reattached on its own and saw every event once, in order, ending
// with the job's real final state.
void KillAndResume(Corruption corruption) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  nlohmann::json cfg = TinyTrainingConfig(40);
  cfg["model"]["hidden_size"] = 160;  // slower steps, so the kill lands mid-run
  ProcessResult train = server->Client({"train", "--config", WriteJson(cfg), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  auto watcher =
      ChildProcess::Start({BinPath("asr-client"), "--server", server->address(), "--json", "watch", job},
                          server->dir + "/watch.log");
  ASSERT_TRUE(WaitFor(
      *server, job, [](const asr::v1::Job& j) { return j.progress().step() >= 12; }, 300));
  const std::vector<pid_t> workers = WorkerPids(*server, job);
  ASSERT_EQ(workers.size(), 1u);
  server->process->Signal(SIGKILL);
  server->process->WaitFor(30);
  ASSERT_TRUE(watcher->running()) << "the watch ended with the server: " << watcher->log();
  // The worker got SIGTERM when its server died: it writes a checkpoint
  // and exits; the newest checkpoint is known once it has.
  ASSERT_TRUE(WaitUntilGone(workers[0], 60)) << "worker " << workers[0] << " outlived its server";
  const std::string ckpt_dir = server->state_dir + "/jobs/" + job + "/checkpoints";
  std::vector<std::string> ckpts;
  for (const auto& e : fs::directory_iterator(ckpt_dir)) ckpts.push_back(e.path().string());
  std::sort(ckpts.rbegin(), ckpts.rend());
  ASSERT_FALSE(ckpts.empty());
  const int64_t newest = std::stoll(fs::path(ckpts[0]).stem().string().substr(5));
  int64_t expected_resume = newest;
  if (corruption == Corruption::kFlippedBytes) {
    // Lengths stay intact: only the checksum can tell.
    ASSERT_GE(ckpts.size(), 2u);
    std::fstream f(ckpts[0], std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(ckpts[0]) / 2);
    for (std::streamoff i = 0; i < 8; ++i) {
      f.seekg(middle + i);
      const char c = static_cast<char>(f.get() ^ 0x5a);
      f.seekp(middle + i);
      f.put(c);
    }
    ASSERT_TRUE(f.good());
    expected_resume = std::stoll(fs::path(ckpts[1]).stem().string().substr(5));
  }
  auto restarted = ServerProcess::Start({}, &why, server->dir, server->grpc_port);
  ASSERT_NE(restarted, nullptr) << why;
  ASSERT_TRUE(WaitFor(
      *restarted, job, [](const asr::v1::Job& j) { return j.state() == asr::v1::SUCCEEDED; }, 600))
      << GetJob(*restarted, job).DebugString();
  const asr::v1::Job done = GetJob(*restarted, job);
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.progress().step(), 40);
  // After the restart the first progress event continues from the checkpoint.
  const auto events = AllEvents(*restarted, job);
  bool restarted_seen = false, rejected_seen = false;
  int64_t first_step_after = -1;
  for (const auto& e : events) {
    if (e.message().find("server restarted") != std::string::npos) restarted_seen = true;
    if (e.message().find("rejected checkpoint") != std::string::npos) rejected_seen = true;
    if (e.message().find("resuming from") != std::string::npos) {
      EXPECT_NE(e.message().find("at step " + std::to_string(expected_resume)), std::string::npos)
          << e.message();
    }
    if (restarted_seen && first_step_after < 0 && e.has_progress()) first_step_after = e.progress().step();
  }
  EXPECT_TRUE(restarted_seen);
  EXPECT_EQ(rejected_seen, corruption == Corruption::kFlippedBytes);
  EXPECT_EQ(first_step_after, expected_resume + 1);
  // The watch outlived the server: it reattached and saw the same events.
  const std::optional<int> watch_exit = watcher->WaitFor(120);
  ASSERT_TRUE(watch_exit.has_value()) << "the watch did not end after the job did: " << watcher->log();
  EXPECT_EQ(*watch_exit, 0) << watcher->log();
  EXPECT_NE(watcher->log().find("reattaching"), std::string::npos) << watcher->log();
  const std::vector<asr::v1::JobEvent> watched = ParseWatchOutput(watcher->log());
  ASSERT_EQ(watched.size(), events.size()) << watcher->log();
  for (size_t i = 0; i < watched.size(); ++i) {
    EXPECT_EQ(watched[i].sequence(), static_cast<int64_t>(i) + 1);
    EXPECT_EQ(watched[i].SerializeAsString(), events[i].SerializeAsString()) << "event " << i + 1;
  }
  ASSERT_FALSE(watched.empty());
  EXPECT_EQ(watched.back().state(), asr::v1::SUCCEEDED);
}

TEST(TrainingServiceTest, Kill9MidTrainingThenRestartResumesAndTheWatchReattaches) {
  KillAndResume(Corruption::kNone);
}

TEST(TrainingServiceTest, NewestCheckpointWithFlippedBytesIsRejectedAndThePreviousOneResumes) {
  KillAndResume(Corruption::kFlippedBytes);
}

TEST(TrainingServiceTest, BadConfigsAndPathsAreInvalidArgumentNamingTheField) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  auto create = [&](const std::function<void(asr::v1::CreateTrainingJobRequest&)>& f) {
    asr::v1::CreateTrainingJobRequest req;
    req.mutable_dataset()->set_train_manifest("c/train.jsonl");
    req.mutable_dataset()->set_dev_manifest("c/dev.jsonl");
    f(req);
    grpc::ClientContext ctx;
    asr::v1::Job job;
    return TrainingStub(*server)->CreateTrainingJob(&ctx, req, &job);
  };
  grpc::Status st = create([](auto& r) { r.mutable_config()->mutable_optimizer()->set_lr(5); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("config.optimizer.lr"), std::string::npos) << st.error_message();
  st = create([](auto& r) { r.mutable_config()->mutable_model()->set_frame_stacking(9); });
  EXPECT_NE(st.error_message().find("model.frame_stacking"), std::string::npos) << st.error_message();
  st = create([](auto& r) { r.mutable_config()->mutable_schedule()->set_decay("sideways"); });
  EXPECT_NE(st.error_message().find("schedule.decay"), std::string::npos) << st.error_message();
  st = create([](auto& r) { r.mutable_dataset()->set_train_manifest("../../etc/passwd"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("escapes the data root"), std::string::npos) << st.error_message();
  st = create([](auto& r) { r.mutable_dataset()->set_dev_manifest("/etc/passwd"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("dataset.dev_manifest"), std::string::npos) << st.error_message();
  fs::create_symlink("/etc", server->data_root + "/escape");
  st = create([](auto& r) { r.mutable_dataset()->set_train_manifest("escape/passwd"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  st = create([](auto& r) { r.mutable_dataset()->set_dataset_id("ds-nope"); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  // A manifest whose audio points outside the data root: entries skipped, job fails clearly.
  std::ofstream(server->data_root + "/evil.jsonl")
      << R"({"audio_filepath": "/etc/hostname", "duration": 1, "text": "one"})"
      << "\n";
  ProcessResult r = server->Client({"train", "--config", WriteJson(TinyTrainingConfig(5)), "--manifest",
                                    "evil.jsonl", "--dev-manifest", "c/dev.jsonl", "--watch"},
                                   120);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the data root"), std::string::npos) << r.err;
  // The client names the problem too.
  r = server->Client(
      {"train", "--config", WriteJson({{"optimizer", {{"lr", -1}}}}), "--manifest", "c/train.jsonl"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("INVALID_ARGUMENT: config.optimizer.lr"), std::string::npos) << r.err;
  r = server->Client({"train", "--config", WriteJson({{"optimiser", {}}}), "--manifest", "c/train.jsonl"});
  EXPECT_EQ(r.exit_code, 2) << "unknown field caught by the client: " << r.err;
}

TEST(TrainingServiceTest, UploadsAreVerifiedAndLimited) {
  std::string why;
  auto server = ServerProcess::Start({"--max-upload-files", "3"}, &why);
  ASSERT_NE(server, nullptr) << why;
  auto upload = [&](const std::vector<asr::v1::UploadDatasetRequest>& parts) {
    grpc::ClientContext ctx;
    asr::v1::Dataset d;
    auto w = TrainingStub(*server)->UploadDataset(&ctx, &d);
    for (const auto& p : parts) w->Write(p);
    w->WritesDone();
    return w->Finish();
  };
  asr::v1::UploadDatasetRequest begin, header, chunk, end;
  begin.mutable_begin()->set_name("x");
  header.mutable_file()->set_path("train.jsonl");
  header.mutable_file()->set_size(3);
  header.mutable_file()->set_sha256(std::string(64, '0'));
  chunk.set_chunk("abc");
  end.mutable_end();
  grpc::Status st = upload({begin, header, chunk, end});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("sha256 mismatch"), std::string::npos) << st.error_message();
  header.mutable_file()->set_path("../../outside.txt");
  st = upload({begin, header, chunk, end});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(fs::exists(server->data_root + "/../outside.txt"));
  ProcessResult r = server->Client({"upload", TinyCorpus()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("RESOURCE_EXHAUSTED"), std::string::npos) << r.err;
  // Nothing half-written stays behind.
  for (const auto& e : fs::directory_iterator(server->data_root + "/datasets")) ADD_FAILURE() << e.path();
}

// Calls `method` ("/package.Service/Method") with one empty request message
// and a half-close, whatever its streaming kind, and returns its status: a
// unary, client-, server- or bidi-streaming method all read this way on the
// wire. `authorization` is sent as that metadata unless empty.
grpc::Status CallWithEmptyRequest(const ServerProcess& s, const std::string& method,
                                  const std::string& authorization) {
  grpc::GenericStub stub(grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  auto call = stub.PrepareCall(&ctx, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(nullptr);
  cq.Next(&tag, &ok);
  grpc::Slice nothing("");
  grpc::ByteBuffer request(&nothing, 1), response;
  if (ok) {
    call->Write(request, nullptr);
    cq.Next(&tag, &ok);
  }
  if (ok) {
    call->WritesDone(nullptr);
    cq.Next(&tag, &ok);
  }
  do {
    call->Read(&response, nullptr);
    cq.Next(&tag, &ok);
  } while (ok);
  grpc::Status status;
  call->Finish(&status, nullptr);
  cq.Next(&tag, &ok);
  return status;
}

// Every method of every asr.v1 service, as "/asr.v1.Service/Method".
std::vector<std::string> AllServiceMethods() {
  std::vector<std::string> out;
  for (const google::protobuf::FileDescriptor* file :
       {asr::v1::GetServerInfoRequest::descriptor()->file(), asr::v1::RecognizeRequest::descriptor()->file(),
        asr::v1::GetJobRequest::descriptor()->file()}) {
    for (int i = 0; i < file->service_count(); ++i) {
      const auto* service = file->service(i);
      for (int m = 0; m < service->method_count(); ++m)
        out.push_back("/" + service->full_name() + "/" + service->method(m)->name());
    }
  }
  return out;
}

TEST(TrainingServiceTest, BearerTokenIsRequiredByEveryRpcExceptHealth) {
  const std::string dir = MakeTempDir();
  std::ofstream(dir + "/token") << "s3cret\n";
  std::string why;
  auto server = ServerProcess::Start({"--auth-token-file", dir + "/token"}, &why);
  ASSERT_NE(server, nullptr) << why;
  const std::vector<std::string> methods = AllServiceMethods();
  ASSERT_GE(methods.size(), 15u);
  for (const std::string& method : methods) {
    for (const char* wrong : {"", "Bearer s3cretEXTRA", "Bearer s3cre", "Bearer guess", "s3cret"}) {
      EXPECT_EQ(CallWithEmptyRequest(*server, method, wrong).error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method << " with authorization '" << wrong << "'";
    }
    // With the token, the empty request gets as far as the method itself.
    const grpc::Status st = CallWithEmptyRequest(*server, method, "Bearer s3cret");
    EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << ": " << st.error_message();
  }
  EXPECT_TRUE(CallWithEmptyRequest(*server, "/grpc.health.v1.Health/Check", "").ok());
  // The client: a tokenless upload stores nothing, a wrong token is named.
  ProcessResult r = server->Client({"upload", TinyCorpus()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(server->data_root + "/datasets", ec)) ADD_FAILURE() << e.path();
  std::ofstream(dir + "/wrong") << "s3cretEXTRA";
  EXPECT_NE(server->Client({"--token-file", dir + "/wrong", "jobs"}).err.find("UNAUTHENTICATED"),
            std::string::npos);
  EXPECT_EQ(server->Client({"--token-file", dir + "/token", "jobs"}).exit_code, 0);
  EXPECT_EQ(server->Client({"health"}).exit_code, 0);
}

TEST(TrainingServiceTest, WatchResumesBySequenceWithoutMissingEvents) {
  std::string why;
  auto server = ServerProcess::Start({}, &why);
  ASSERT_NE(server, nullptr) << why;
  PlaceCorpus(*server, "c");
  ProcessResult train =
      server->Client({"train", "--config", WriteJson(TinyTrainingConfig(25)), "--manifest", "c/train.jsonl"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string job = FirstLine(train.out);
  // Read a few events live, then drop the stream.
  std::vector<asr::v1::JobEvent> got;
  {
    grpc::ClientContext ctx;
    asr::v1::WatchJobRequest req;
    req.set_job_id(job);
    auto reader = TrainingStub(*server)->WatchJob(&ctx, req);
    asr::v1::JobEvent e;
    while (got.size() < 6 && reader->Read(&e)) got.push_back(e);
    ctx.TryCancel();
    reader->Finish();
  }
  ASSERT_EQ(got.size(), 6u);
  for (const auto& e : AllEvents(*server, job, got.back().sequence())) got.push_back(e);
  const auto full = AllEvents(*server, job);
  ASSERT_EQ(got.size(), full.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence(), static_cast<int64_t>(i) + 1);
    EXPECT_EQ(got[i].SerializeAsString(), full[i].SerializeAsString());
  }
  EXPECT_EQ(full.back().state(), asr::v1::SUCCEEDED);
  // The client reattaches on its own after a dropped connection (server restart).
  ProcessResult watch = server->Client({"watch", job});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
}

}  // namespace
}  // namespace asr::testing
