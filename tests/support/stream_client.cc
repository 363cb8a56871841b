#include "tests/support/stream_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

#include "features/audio.h"
#include "nlohmann/json.hpp"
#include "tests/support/corpus.h"

namespace asr::testing {

std::unique_ptr<asr::v1::RecognitionService::Stub> RecognitionStub(const ServerProcess& s) {
  return asr::v1::RecognitionService::NewStub(
      grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials()));
}

std::string Pcm16(const std::string& path, int* rate) {
  auto a = DecodeAudioFile(path);
  EXPECT_TRUE(a.ok()) << a.status();
  if (!a.ok()) return "";
  *rate = a->sample_rate;
  std::string pcm(a->samples.size() * 2, '\0');
  for (size_t i = 0; i < a->samples.size(); ++i) {
    const int16_t v = static_cast<int16_t>(std::lrint(std::clamp(a->samples[i], -1.f, 1.f) * 32767));
    std::memcpy(&pcm[2 * i], &v, 2);
  }
  return pcm;
}

asr::v1::RecognitionConfig Linear16Config(int rate) {
  asr::v1::RecognitionConfig c;
  c.set_model("digits");
  c.set_encoding(asr::v1::LINEAR16);
  c.set_sample_rate_hertz(rate);
  c.set_enable_word_time_offsets(true);
  c.mutable_endpoint()->set_silence_seconds(-1);  // one final at the end
  return c;
}

std::vector<StreamRequest> Chunks(const asr::v1::RecognitionConfig& c, const std::string& bytes,
                                  size_t chunk) {
  std::vector<StreamRequest> out(1);
  *out[0].mutable_config() = c;
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    StreamRequest r;
    r.set_audio(bytes.substr(off, chunk));
    out.push_back(r);
  }
  return out;
}

std::vector<std::string> TestFiles() {
  std::vector<std::string> files;
  std::ifstream in(TinyCorpus() + "/test.jsonl");
  for (std::string line; std::getline(in, line) && files.size() < 8;) {
    files.push_back(TinyCorpus() + "/" + nlohmann::json::parse(line)["audio_filepath"].get<std::string>());
  }
  return files;
}

StreamResult RunStream(const ServerProcess& s, const std::vector<StreamRequest>& messages, int pause_ms) {
  return RunStream(s.address(), messages, pause_ms);
}

StreamResult RunStream(const std::string& address, const std::vector<StreamRequest>& messages, int pause_ms) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));  // never a hang
  auto stub =
      asr::v1::RecognitionService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  auto rw = stub->StreamingRecognize(&ctx);
  StreamResult r;
  std::thread reader([&] {
    StreamResponse resp;
    while (rw->Read(&resp)) r.responses.push_back(resp);
  });
  for (const StreamRequest& m : messages) {
    if (!rw->Write(m)) break;
    if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  rw->WritesDone();
  reader.join();
  r.status = rw->Finish();
  return r;
}

std::string FinalTranscript(const StreamResult& r) {
  std::string text;
  for (const StreamResponse& resp : r.responses) {
    for (const auto& result : resp.results()) {
      if (!result.is_final() || result.alternatives().empty()) continue;
      const std::string& t = result.alternatives(0).transcript();
      if (!t.empty()) text += (text.empty() ? "" : " ") + t;
    }
  }
  return text;
}

std::string Metric(const ServerProcess& s, const std::string& name) {
  const std::string text = HttpGet("127.0.0.1", s.metrics_port, "/metrics");
  for (size_t pos = 0; (pos = text.find(name, pos)) != std::string::npos; pos += name.size()) {
    if ((pos == 0 || text[pos - 1] == '\n') && text.compare(pos + name.size(), 1, " ") == 0)
      return text.substr(pos + name.size() + 1, text.find('\n', pos) - pos - name.size() - 1);
  }
  return "";
}

bool WaitUntil(const std::function<bool()>& pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace asr::testing
