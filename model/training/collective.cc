#include "model/training/collective.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asr {
namespace {

using Getenv = std::function<const char*(const char*)>;

// The integer value of variable `name`, or an error naming it; `fallback`
// when it is unset and a fallback is given.
absl::StatusOr<int> IntVar(const Getenv& getenv, const char* name,
                           std::optional<int> fallback = std::nullopt) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(name, " is not set"));
  }
  int out = 0;
  if (!absl::SimpleAtoi(v, &out) || out < 0)
    return absl::InvalidArgumentError(absl::StrCat(name, "='", v, "' is not a non-negative integer"));
  return out;
}

}  // namespace

std::string WorldInfo::ToString() const {
  return absl::StrCat("rank ", rank, "/", world_size, " (local ", local_rank, "/", local_world_size, ") via ",
                      launcher, ", store ", master_addr, ":", master_port,
                      agent_store ? absl::StrCat(" (torchrun agent, attempt ", restart_count, ")") : "");
}

absl::StatusOr<std::optional<WorldInfo>> WorldFromEnvironment(const Getenv& getenv) {
  auto set = [&](const char* name) {
    const char* v = getenv(name);
    return v != nullptr && *v != '\0';
  };
  WorldInfo w;
  const char *rank_var = nullptr, *size_var = nullptr, *local_var = nullptr;
  if (set("RANK") || set("WORLD_SIZE")) {
    rank_var = "RANK", size_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
    w.launcher = set("TORCHELASTIC_RUN_ID") ? "torchrun" : "env";
  } else if (set("SLURM_PROCID")) {
    rank_var = "SLURM_PROCID", size_var = "SLURM_NTASKS", local_var = "SLURM_LOCALID";
    w.launcher = "slurm";
  } else {
    return std::nullopt;
  }
  auto rank = IntVar(getenv, rank_var);
  if (!rank.ok()) return rank.status();
  auto size = IntVar(getenv, size_var);
  if (!size.ok()) return size.status();
  w.rank = *rank, w.world_size = *size;
  if (w.world_size < 1 || w.rank >= w.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(rank_var, "=", w.rank, " is not below ", size_var, "=", w.world_size));
  }
  auto local = IntVar(getenv, local_var, 0);
  if (!local.ok()) return local.status();
  auto local_size = IntVar(getenv, w.launcher == "slurm" ? "SLURM_NTASKS_PER_NODE" : "LOCAL_WORLD_SIZE", 1);
  if (!local_size.ok()) return local_size.status();
  w.local_rank = *local, w.local_world_size = std::max(*local_size, w.local_rank + 1);
  if (w.world_size > 1 || set("MASTER_ADDR")) {
    if (!set("MASTER_ADDR")) return absl::InvalidArgumentError("MASTER_ADDR is not set");
    w.master_addr = getenv("MASTER_ADDR");
    auto port = IntVar(getenv, "MASTER_PORT");
    if (!port.ok()) return port.status();
    if (*port < 1 || *port > 65535)
      return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT=", *port, " is not a TCP port"));
    w.master_port = *port;
  }
  const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
  w.agent_store = agent != nullptr &&
                  (std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1");
  auto restarts = IntVar(getenv, "TORCHELASTIC_RESTART_COUNT", 0);
  if (!restarts.ok()) return restarts.status();
  w.restart_count = *restarts;
  return w;
}

}  // namespace asr
