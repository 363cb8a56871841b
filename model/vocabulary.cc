#include "model/vocabulary.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace asr {

Vocabulary::Vocabulary(std::string symbols) : symbols_(std::move(symbols)) {
  for (int64_t& i : index_) i = -1;
  for (size_t i = 0; i < symbols_.size(); ++i) index_[static_cast<unsigned char>(symbols_[i])] = static_cast<int64_t>(i) + 1;
}

absl::StatusOr<Vocabulary> Vocabulary::Create(const std::string& symbols) {
  bool seen[256] = {};
  for (char c : symbols) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 32 || u > 126) return absl::InvalidArgumentError(absl::StrCat("vocabulary: non-printable byte ", int{u}));
    if (seen[u]) return absl::InvalidArgumentError(absl::StrCat("vocabulary: '", std::string(1, c), "' repeated"));
    seen[u] = true;
  }
  if (!seen[static_cast<unsigned char>(' ')]) return absl::InvalidArgumentError("vocabulary: must contain ' '");
  if (symbols.size() < 2) return absl::InvalidArgumentError("vocabulary: needs at least one symbol besides ' '");
  return Vocabulary(symbols);
}

int64_t Vocabulary::Id(char ch) const { return index_[static_cast<unsigned char>(ch)]; }

std::string Vocabulary::Normalize(const std::string& text) const {
  std::string out;
  bool pending_space = false;
  for (char raw : text) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    if (c == ' ' || Id(c) < 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> Vocabulary::Encode(const std::string& text) const {
  const std::string norm = Normalize(text);
  if (norm.empty()) return absl::InvalidArgumentError(absl::StrCat("transcript '", text, "' has no vocabulary symbols"));
  std::vector<int64_t> ids;
  ids.reserve(norm.size());
  for (char c : norm) ids.push_back(Id(c));
  return ids;
}

std::string Vocabulary::Decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id > 0 && id < size()) out.push_back(Symbol(id));
  }
  return out;
}

}  // namespace asr
