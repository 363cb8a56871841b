#include "server/paths.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace asr::server {

absl::StatusOr<std::string> ConfinedPath(const std::string& root, const std::string& relative,
                                         const std::string& field) {
  namespace fs = std::filesystem;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", relative, "' ", why));
  };
  if (relative.empty()) return bad("is empty");
  if (relative.size() > 1024) return bad("is too long");
  for (char c : relative) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '/' ||
                    c == '-' || c == ' ';
    if (!ok) return bad("has characters outside [A-Za-z0-9._/ -]");
  }
  const fs::path rel(relative);
  if (rel.is_absolute()) return bad("must be relative to the data root");
  const fs::path normal = rel.lexically_normal();
  if (normal.empty() || *normal.begin() == ".." || normal == ".") return bad("escapes the data root");
  std::error_code ec;
  const fs::path root_real = fs::weakly_canonical(root, ec);
  const fs::path full = fs::weakly_canonical(fs::path(root) / normal, ec);
  if (ec) return bad("cannot be resolved");
  const auto mismatch = std::mismatch(root_real.begin(), root_real.end(), full.begin(), full.end());
  if (mismatch.first != root_real.end()) return bad("escapes the data root (through a link)");
  return full.string();
}

std::vector<std::string> RemoveInterruptedWrites(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // Another replica may be publishing into a shared model store right
    // now: its staging files count as leftovers only once an hour old.
    const auto age = std::filesystem::file_time_type::clock::now() - entry.last_write_time(ec);
    const bool leftover = (name[0] == '.' && name.find(".tmp-") != std::string::npos) ||
                          name == ".publishing.asrmodel" || name.rfind(".incoming-", 0) == 0 ||
                          (name.rfind(".publishing-", 0) == 0 && age > std::chrono::hours(1));
    if (leftover && std::filesystem::remove_all(entry.path(), ec) > 0)
      removed.push_back(entry.path().string());
  }
  return removed;
}

}  // namespace asr::server
