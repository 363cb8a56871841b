// Collective operations across the processes of one training job
// (torch.distributed's c10d: Gloo, or NCCL in a CUDA build), behind an interface so that the
// trainer does not depend on the backend and a single process needs none.
// Launchers: torchrun (its environment contract), Slurm (srun's), or any
// tool that sets RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr {

// Where this process stands in its job's process group.
struct WorldInfo {
  int rank = 0;  // 0 .. world_size - 1; rank 0 writes checkpoints, logs and the model
  int world_size = 1;
  int local_rank = 0;  // on this host
  int local_world_size = 1;
  std::string master_addr;  // host of the rendezvous store (TCPStore)
  int master_port = 0;
  // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE); ranks
  // then join it under "/worker/attempt_<restart_count>", as
  // torch/distributed/rendezvous.py does.
  bool agent_store = false;
  int restart_count = 0;  // TORCHELASTIC_RESTART_COUNT
  std::string launcher;   // "torchrun", "slurm" or "env": where the values came from
  std::string ToString() const;
};

// Reads the launcher's environment through `getenv`: RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
// TORCHELASTIC_USE_AGENT_STORE / TORCHELASTIC_RESTART_COUNT (torchrun, or
// set by hand); without RANK and WORLD_SIZE, Slurm's SLURM_PROCID,
// SLURM_NTASKS and SLURM_LOCALID (MASTER_ADDR and MASTER_PORT still come
// from the job script). nullopt when neither RANK nor SLURM_PROCID is set:
// one process, as without a launcher. Errors name the variable that is
// missing, malformed or inconsistent with the others.
absl::StatusOr<std::optional<WorldInfo>> WorldFromEnvironment(
    const std::function<const char*(const char*)>& getenv = [](const char* name) {
      return std::getenv(name);
    });

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const = 0;  // this process's index on its host: its GPU when training on CUDA
  // Every rank calls these in the same order with tensors of the same
  // shapes and dtypes (CPU, contiguous or not); they return when all ranks
  // have contributed. They throw std::runtime_error when a peer is lost or
  // the timeout passes: the job then exits and its launcher restarts it
  // from a checkpoint.
  // Each tensor summed over the ranks, in place (one flattened buffer per
  // dtype on the wire).
  virtual void AllReduceSum(std::vector<torch::Tensor>& tensors) = 0;
  // Each tensor set to rank `root`'s, in place.
  virtual void Broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
};

enum class CollectiveBackend {
  kGloo,  // CPU buffers over TCP (tensors on a GPU are copied to the host and back)
  kNccl,  // buffers on GPU local_rank, NCCL between GPUs (CUDA builds with NCCL)
};
// "gloo", "nccl"; and back (nullopt for another name).
const char* CollectiveBackendName(CollectiveBackend backend);
std::optional<CollectiveBackend> ParseCollectiveBackend(const std::string& name);

// Joins the process group described by `world` over TCP: the store at
// MASTER_ADDR:MASTER_PORT (hosted by rank 0 unless torchrun's agent hosts
// it), then the backend: Gloo on the interface named by GLOO_SOCKET_IFNAME
// or else the address the host name resolves to (loopback when the master
// is); NCCL on GPU `world.local_rank` (NCCL_SOCKET_IFNAME and NCCL's other
// variables apply). Waits at most `timeout` for the peers; the same timeout
// bounds every collective. Unimplemented when this build lacks the backend
// (Gloo: libgloo-dev; NCCL: a CUDA LibTorch and nccl.h), naming what is
// missing.
absl::StatusOr<std::unique_ptr<Collective>> JoinProcessGroup(
    const WorldInfo& world, std::chrono::milliseconds timeout,
    CollectiveBackend backend = CollectiveBackend::kGloo);

// Whether this build can join a process group over Gloo / over NCCL.
bool ProcessGroupsAvailable();
bool NcclAvailable();

}  // namespace asr
