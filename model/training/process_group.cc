// JoinProcessGroup over c10d's TCPStore + ProcessGroupGloo, or
// ProcessGroupNCCL through process_group_nccl.cc (collective.h). CMake sets
// ASR_HAVE_GLOO (with USE_C10D_GLOO, the c10d headers' guard) when
// libgloo-dev is found, ASR_HAVE_NCCL when process_group_nccl.cc is linked
// in, ASR_HAVE_C10D with either; without both, joining is Unimplemented.
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "model/training/collective.h"

#ifdef ASR_HAVE_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ASR_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include "model/training/c10d_collective.h"
#endif

namespace asr {

const char* CollectiveBackendName(CollectiveBackend backend) {
  return backend == CollectiveBackend::kNccl ? "nccl" : "gloo";
}

std::optional<CollectiveBackend> ParseCollectiveBackend(const std::string& name) {
  if (name == "gloo") return CollectiveBackend::kGloo;
  if (name == "nccl") return CollectiveBackend::kNccl;
  return std::nullopt;
}

bool NcclAvailable() {
#if defined(ASR_HAVE_C10D) && defined(ASR_HAVE_NCCL)
  return true;
#else
  return false;
#endif
}

#ifdef ASR_HAVE_C10D
namespace {

c10::intrusive_ptr<c10d::Store> ConnectStore(const WorldInfo& world, std::chrono::milliseconds timeout) {
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
    store =
        c10::make_intrusive<c10d::PrefixStore>(absl::StrCat("/worker/attempt_", world.restart_count), store);
  }
  return store;
}

#ifdef ASR_HAVE_GLOO
std::unique_ptr<Collective> JoinGloo(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& world,
                                     std::chrono::milliseconds timeout) {
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
  return std::make_unique<C10dCollective<c10d::ProcessGroupGloo>>(std::move(group), world, torch::kCPU);
}
#endif

}  // namespace

bool ProcessGroupsAvailable() {
#ifdef ASR_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<Collective>> JoinProcessGroup(const WorldInfo& world,
                                                             std::chrono::milliseconds timeout,
                                                             CollectiveBackend backend) {
  if (backend == CollectiveBackend::kNccl && !NcclAvailable()) {
    return absl::UnimplementedError(
        "this build has no NCCL (it needs a CUDA LibTorch and nccl.h); use the gloo backend");
  }
  if (backend == CollectiveBackend::kGloo && !ProcessGroupsAvailable()) {
    return absl::UnimplementedError("this build has no Gloo (libgloo-dev); use the nccl backend");
  }
  try {
    const c10::intrusive_ptr<c10d::Store> store = ConnectStore(world, timeout);
#ifdef ASR_HAVE_NCCL
    if (backend == CollectiveBackend::kNccl) return JoinNccl(store, world, timeout);
#endif
#ifdef ASR_HAVE_GLOO
    return JoinGloo(store, world, timeout);
#else
    return absl::UnimplementedError("no Gloo");  // not reached: checked above
#endif
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot join the process group as ", world.ToString(),
                                               " over ", CollectiveBackendName(backend), " within ",
                                               timeout.count() / 1000, " s: ", e.what()));
  }
}

#else  // !ASR_HAVE_C10D

bool ProcessGroupsAvailable() { return false; }

absl::StatusOr<std::unique_ptr<Collective>> JoinProcessGroup(const WorldInfo& world,
                                                             std::chrono::milliseconds, CollectiveBackend) {
  return absl::UnimplementedError(
      absl::StrCat("this build has no torch.distributed (c10d) support, so it cannot run as ",
                   world.ToString(), "; install libgloo-dev and rebuild"));
}

#endif

}  // namespace asr
