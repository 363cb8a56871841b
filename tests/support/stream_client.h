// Test support for recognition over gRPC: audio as LINEAR16, stream
// messages, a client that streams and collects everything, and a server's
// metrics read back.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "asr/v1/recognition.grpc.pb.h"
#include "tests/support/server_process.h"

namespace asr::testing {

using StreamRequest = asr::v1::StreamingRecognizeRequest;
using StreamResponse = asr::v1::StreamingRecognizeResponse;

std::unique_ptr<asr::v1::RecognitionService::Stub> RecognitionStub(const ServerProcess& s);

// The samples of an audio file as LINEAR16 bytes; *rate gets its rate.
std::string Pcm16(const std::string& path, int* rate);

// LINEAR16 at `rate` of model "digits", word times on, no endpointing.
asr::v1::RecognitionConfig Linear16Config(int rate);

// A config message, then `bytes` in `chunk`-byte audio messages.
std::vector<StreamRequest> Chunks(const asr::v1::RecognitionConfig& c, const std::string& bytes,
                                  size_t chunk);

// The first eight test utterances of the tiny corpus (paths).
std::vector<std::string> TestFiles();

struct StreamResult {
  grpc::Status status;
  std::vector<StreamResponse> responses;
};

// Streams `messages` (pausing `pause_ms` after each), half-closes, and
// reads everything until the call ends.
StreamResult RunStream(const ServerProcess& s, const std::vector<StreamRequest>& messages, int pause_ms = 0);
// The same through any gRPC address (a balancer); the call's deadline is
// 10 minutes.
StreamResult RunStream(const std::string& address, const std::vector<StreamRequest>& messages,
                       int pause_ms = 0);

// The transcripts of the final results of `r`, joined by spaces.
std::string FinalTranscript(const StreamResult& r);

// The value of the sample line that starts with `name` (with its labels)
// on the server's /metrics, or "" if none.
std::string Metric(const ServerProcess& s, const std::string& name);

// Polls `pred` every 20 ms until it holds or `seconds` pass; true if it held.
// Deadlines are generous: they only bound a failing test, never time a
// passing one.
bool WaitUntil(const std::function<bool()>& pred, double seconds = 60);

}  // namespace asr::testing
