// JoinNccl (c10d_collective.h): ProcessGroupNCCL on this rank's GPU.
// Compiled with USE_C10D_NCCL (the c10d headers' guard) and linked only
// into a CUDA LibTorch build that has NCCL; a CPU build with CUDA's
// nccl.h compiles it without linking it, so that it keeps compiling.
#include <c10/cuda/CUDAFunctions.h>

#include <stdexcept>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "absl/strings/str_cat.h"
#include "model/training/c10d_collective.h"

namespace asr {

std::unique_ptr<Collective> JoinNccl(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& world,
                                     std::chrono::milliseconds timeout) {
  const int gpus = static_cast<int>(c10::cuda::device_count());
  if (world.local_rank >= gpus) {
    throw std::runtime_error(absl::StrCat("local rank ", world.local_rank,
                                          " has no GPU of its own: this host has ", gpus,
                                          " (one NCCL rank per GPU)"));
  }
  // NCCL binds a communicator to the current device.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(world.local_rank));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, world.rank, world.world_size, options);
  return std::make_unique<C10dCollective<c10d::ProcessGroupNCCL>>(
      std::move(group), world, torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank)));
}

}  // namespace asr
