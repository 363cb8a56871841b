// JoinProcessGroup over c10d's TCPStore + ProcessGroupGloo (collective.h).
// Compiled with USE_C10D_GLOO (the c10d headers' guard) when libgloo-dev
// is found; otherwise ASR_HAVE_C10D is unset and joining is Unimplemented.
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "model/training/collective.h"

#ifdef ASR_HAVE_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace asr {

#ifdef ASR_HAVE_C10D
namespace {

class GlooCollective : public Collective {
 public:
  GlooCollective(c10::intrusive_ptr<c10d::ProcessGroupGloo> group, int rank, int size)
      : group_(std::move(group)), rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  void AllReduceSum(std::vector<torch::Tensor>& tensors) override {
    ForEachDtype(tensors,
                 [this](std::vector<at::Tensor>& flat) { Wait(group_->allreduce(flat), "allreduce"); });
  }
  void Broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    ForEachDtype(tensors,
                 [&](std::vector<at::Tensor>& flat) { Wait(group_->broadcast(flat, opts), "broadcast"); });
  }

 private:
  // Runs `op` on one flattened buffer per dtype, then copies the results
  // back into the tensors.
  template <typename Op>
  void ForEachDtype(std::vector<torch::Tensor>& tensors, Op&& op) {
    std::map<c10::ScalarType, std::vector<size_t>> by_dtype;
    for (size_t i = 0; i < tensors.size(); ++i) by_dtype[tensors[i].scalar_type()].push_back(i);
    torch::NoGradGuard no_grad;
    for (auto& [dtype, indices] : by_dtype) {
      std::vector<torch::Tensor> parts;
      for (size_t i : indices) parts.push_back(tensors[i].reshape({-1}));
      std::vector<at::Tensor> flat = {torch::cat(parts)};
      op(flat);
      int64_t offset = 0;
      for (size_t i : indices) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flat[0].narrow(0, offset, n).view(tensors[i].sizes()));
        offset += n;
      }
    }
  }
  static void Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(absl::StrCat(what, " across ranks failed: ", e.what()));
    }
  }

  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  const int rank_, size_;
};

}  // namespace

bool ProcessGroupsAvailable() { return true; }

absl::StatusOr<std::unique_ptr<Collective>> JoinProcessGroup(const WorldInfo& world,
                                                             std::chrono::milliseconds timeout) {
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(world.master_port);
    opts.isServer = world.rank == 0 && !world.agent_store;
    // As torch.distributed does: every rank counts itself in, the server
    // waits for all of them.
    opts.numWorkers = static_cast<size_t>(world.world_size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, opts);
    if (world.agent_store) {
      store = c10::make_intrusive<c10d::PrefixStore>(absl::StrCat("/worker/attempt_", world.restart_count),
                                                     store);
    }
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (world.master_addr == "127.0.0.1" || world.master_addr == "localhost") {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, world.rank, world.world_size, options);
    return std::unique_ptr<Collective>(new GlooCollective(std::move(group), world.rank, world.world_size));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot join the process group as ", world.ToString(),
                                               " within ", timeout.count() / 1000, " s: ", e.what()));
  }
}

#else  // !ASR_HAVE_C10D

bool ProcessGroupsAvailable() { return false; }

absl::StatusOr<std::unique_ptr<Collective>> JoinProcessGroup(const WorldInfo& world,
                                                             std::chrono::milliseconds) {
  return absl::UnimplementedError(
      absl::StrCat("this build has no torch.distributed (c10d) support, so it cannot run as ",
                   world.ToString(), "; install libgloo-dev and rebuild"));
}

#endif

}  // namespace asr
