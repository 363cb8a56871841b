// StreamBatcher without a server: streams decoded together give what each
// gives alone, batches respect max_batch and never mix models, every stream
// finishes exactly once, and Remove() waits out a decode in flight.
#include "model/recognizer/stream_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "model/recognizer/recognizer.h"
#include "tests/model/recognizer/test_model.h"

namespace asr::testing {
namespace {

// Collects one stream's results; Wait() blocks until it finished.
class CollectingSink : public StreamSink {
 public:
  void OnResults(std::vector<RecognitionResult> results, bool finished) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : results) results_.push_back(std::move(r));
    finishes_ += finished;
    ++calls_;
    cv_.notify_all();
  }
  void OnError(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = status;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return finishes_ > 0 || !error_.ok(); });
  }
  std::string FinalText() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string text;
    for (const auto& r : results_) {
      if (r.is_final) text += r.alternatives.at(0).text + "|";
    }
    return text;
  }
  int finishes() {
    std::lock_guard<std::mutex> lock(mu_);
    return finishes_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  absl::Status error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RecognitionResult> results_;
  int finishes_ = 0, calls_ = 0;
  absl::Status error_;
};

class BatchSizes : public RecognitionObserver {
 public:
  void OnBatch(int streams, double, double) override {
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(streams);
  }
  std::vector<int> Take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(sizes, {});
  }
  std::mutex mu;
  std::vector<int> sizes;
};

StreamOptions Options() {
  StreamOptions o;
  o.audio.encoding = AudioEncoding::kLinear16;
  o.audio.sample_rate_hertz = 16000;
  o.endpoint.silence_seconds = 0.3;
  return o;
}

// A different second of the recording for each stream index.
std::string Audio(int index) {
  const auto& s = Speech().samples;
  const size_t len = 16000, start = (static_cast<size_t>(index) * 4000) % (s.size() - len);
  return Pcm16(s.data() + start, len);
}

void Feed(RecognitionStream& s, int index) {
  EXPECT_TRUE(s.AcceptAudio(Audio(index)).ok());
  EXPECT_TRUE(s.InputFinished().ok());
}

// A stream of `model` with stream `index`'s audio, or none yet.
std::unique_ptr<RecognitionStream> Stream(const std::shared_ptr<const RecognizerModel>& model, int index,
                                          bool feed = true) {
  auto s = RecognitionStream::Create(model, Options());
  EXPECT_TRUE(s.ok()) << s.status();
  if (feed) Feed(**s, index);
  return std::move(*s);
}

// Final transcripts of stream `index` decoded alone, without a batcher.
std::string Alone(const std::shared_ptr<const RecognizerModel>& model, int index) {
  auto s = Stream(model, index);
  while (s->IsReady()) DecodeStreams({s.get()});
  std::string text;
  for (const auto& r : s->TakeResults()) {
    if (r.is_final) text += r.alternatives.at(0).text + "|";
  }
  return text;
}

TEST(StreamBatcherTest, BatchedStreamsGiveWhatEachGivesAlone) {
  const auto model = RandomModel(3, "random:3");
  BatchSizes observer;
  BatcherOptions options;
  options.max_batch = 64;
  options.max_wait_ms = 500;  // the first ready stream waits for the others
  StreamBatcher batcher(options, &observer);
  constexpr int kStreams = 8;
  std::vector<std::unique_ptr<RecognitionStream>> streams;
  std::vector<CollectingSink> sinks(kStreams);
  for (int i = 0; i < kStreams; ++i) streams.push_back(Stream(model, i, /*feed=*/false));
  for (int i = 0; i < kStreams; ++i) {
    batcher.Add(streams[static_cast<size_t>(i)].get(), &sinks[static_cast<size_t>(i)]);
  }
  for (int i = 0; i < kStreams; ++i) Feed(*streams[static_cast<size_t>(i)], i);
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(sinks[static_cast<size_t>(i)].Wait()) << "stream " << i;
    EXPECT_EQ(sinks[static_cast<size_t>(i)].FinalText(), Alone(model, i)) << "stream " << i;
    EXPECT_EQ(sinks[static_cast<size_t>(i)].finishes(), 1);
  }
  for (auto& s : streams) batcher.Remove(s.get());
  const std::vector<int> sizes = observer.Take();
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(*std::max_element(sizes.begin(), sizes.end()), kStreams)
      << "all ready streams stepped together: " << ::testing::PrintToString(sizes);
  EXPECT_EQ(batcher.active_streams(), 0u);
}

TEST(StreamBatcherTest, BatchesRespectMaxBatchAndNeverMixModels) {
  const auto a = RandomModel(4, "a:1"), b = RandomModel(5, "b:1");
  BatchSizes observer;
  BatcherOptions options;
  options.max_batch = 3;
  options.max_wait_ms = 200;
  StreamBatcher batcher(options, &observer);
  std::vector<std::unique_ptr<RecognitionStream>> streams;
  for (int i = 0; i < 5; ++i) streams.push_back(Stream(a, i, /*feed=*/false));  // 5 of model a
  for (int i = 0; i < 2; ++i) streams.push_back(Stream(b, i, /*feed=*/false));  // 2 of model b
  std::vector<CollectingSink> sinks(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) batcher.Add(streams[i].get(), &sinks[i]);
  int64_t inputs = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    Feed(*streams[i], static_cast<int>(i % 5));
    inputs += static_cast<int64_t>(Stream(a, static_cast<int>(i % 5))->PendingInputs());  // an undecoded twin
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    ASSERT_TRUE(sinks[i].Wait()) << "stream " << i << " starved";
    EXPECT_EQ(sinks[i].FinalText(), Alone(i < 5 ? a : b, static_cast<int>(i % 5))) << "stream " << i;
  }
  for (auto& s : streams) batcher.Remove(s.get());
  const std::vector<int> sizes = observer.Take();
  int64_t stepped = 0;
  for (int n : sizes) {
    EXPECT_LE(n, 3);
    stepped += n;
  }
  EXPECT_EQ(stepped, inputs) << "every input stepped once";
  EXPECT_NE(std::find(sizes.begin(), sizes.end(), 3), sizes.end());
}

// A sink that holds the batcher's thread inside its callback until released.
class BlockingSink : public CollectingSink {
 public:
  void OnResults(std::vector<RecognitionResult> results, bool finished) override {
    entered = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CollectingSink::OnResults(std::move(results), finished);
    left = true;
  }
  std::atomic<bool> entered{false}, release{false}, left{false};
};

TEST(StreamBatcherTest, RemoveWaitsForTheDecodeInFlightAndNoCallbackFollows) {
  const auto model = RandomModel(6, "random:6");
  StreamBatcher batcher(BatcherOptions{});
  StreamOptions o = Options();
  o.interim_results = true;  // a result once the chunk is decoded
  auto s = RecognitionStream::Create(model, o);
  ASSERT_TRUE(s.ok());
  BlockingSink sink;
  batcher.Add(s->get(), &sink);
  ASSERT_TRUE((*s)->AcceptAudio(Audio(0)).ok());
  for (int i = 0; i < 20000 && !sink.entered; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(sink.entered) << "no result within 20 s";
  std::atomic<bool> removed{false};
  std::thread remover([&] {
    batcher.Remove(s->get());
    removed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(removed) << "Remove returned while a callback ran";
  sink.release = true;
  remover.join();
  EXPECT_TRUE(sink.left);
  const int calls = sink.calls();
  ASSERT_TRUE((*s)->AcceptAudio(Audio(1)).ok());
  ASSERT_TRUE((*s)->InputFinished().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(sink.calls(), calls) << "a removed stream is not decoded";
  EXPECT_TRUE((*s)->IsReady());
}

}  // namespace
}  // namespace asr::testing
