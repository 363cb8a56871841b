// Internal to the process-group translation units (process_group.cc with
// Gloo, process_group_nccl.cc with NCCL): a Collective over one c10d
// backend, and how the NCCL one is joined. Include only where the c10d
// headers are enabled (USE_C10D_GLOO / USE_C10D_NCCL).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "absl/strings/str_cat.h"
#include "model/training/collective.h"

namespace asr {

// Collective over `Group` (c10d::ProcessGroupGloo or ProcessGroupNCCL: in
// LibTorch 2.x they derive from c10d::Backend, in 1.13 from ProcessGroup,
// hence the template). Each call sends one flattened buffer per dtype,
// placed on `wire` (CPU for Gloo, this rank's GPU for NCCL) whatever device
// the caller's tensors are on, and copies the result back into them.
// Not thread-safe: one thread issues the collectives, as c10d requires.
template <typename Group>
class C10dCollective : public Collective {
 public:
  C10dCollective(c10::intrusive_ptr<Group> group, const WorldInfo& world, torch::Device wire)
      : group_(std::move(group)),
        rank_(world.rank),
        size_(world.world_size),
        local_rank_(world.local_rank),
        wire_(wire) {}
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

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
  template <typename Op>
  void ForEachDtype(std::vector<torch::Tensor>& tensors, Op&& op) {
    std::map<c10::ScalarType, std::vector<size_t>> by_dtype;
    for (size_t i = 0; i < tensors.size(); ++i) by_dtype[tensors[i].scalar_type()].push_back(i);
    torch::NoGradGuard no_grad;
    for (auto& [dtype, indices] : by_dtype) {
      std::vector<torch::Tensor> parts;
      for (size_t i : indices) parts.push_back(tensors[i].reshape({-1}).to(wire_));
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
  template <typename Work>
  static void Wait(const Work& work, const char* what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(absl::StrCat(what, " across ranks failed: ", e.what()));
    }
  }

  c10::intrusive_ptr<Group> group_;
  const int rank_, size_, local_rank_;
  const torch::Device wire_;
};

// NCCL over `store` on GPU `world.local_rank` (process_group_nccl.cc, built
// only with a CUDA LibTorch that has NCCL). Throws what c10d throws.
std::unique_ptr<Collective> JoinNccl(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& world,
                                     std::chrono::milliseconds timeout);

}  // namespace asr
