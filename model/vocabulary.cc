#include "model/vocabulary.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace asr {

Vocabulary::Vocabulary(std::vector<std::string> units, bool word_units)
    : units_(std::move(units)), word_units_(word_units) {
  for (int64_t& i : char_id_) i = -1;
  for (size_t i = 0; i < units_.size(); ++i) {
    const int64_t id = static_cast<int64_t>(i) + 1;
    if (word_units_) {
      word_id_.emplace(units_[i], id);
    } else {
      char_id_[static_cast<unsigned char>(units_[i][0])] = id;
    }
    for (char c : units_[i]) kept_[static_cast<unsigned char>(c)] = true;
  }
  // Word units keep every word character, so that an unknown word stays
  // whole (and is reported) instead of shrinking into a unit.
  for (int c = 0; word_units_ && c < 128; ++c) kept_[c] = kept_[c] || std::isalnum(c) || c == '\'';
}

absl::StatusOr<Vocabulary> Vocabulary::Create(const std::string& symbols) {
  bool seen[256] = {};
  std::vector<std::string> units;
  for (char c : symbols) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 32 || u > 126)
      return absl::InvalidArgumentError(absl::StrCat("vocabulary: non-printable byte ", int{u}));
    if (seen[u])
      return absl::InvalidArgumentError(absl::StrCat("vocabulary: '", std::string(1, c), "' repeated"));
    seen[u] = true;
    units.emplace_back(1, c);
  }
  if (!seen[static_cast<unsigned char>(' ')])
    return absl::InvalidArgumentError("vocabulary: must contain ' '");
  if (symbols.size() < 2)
    return absl::InvalidArgumentError("vocabulary: needs at least one symbol besides ' '");
  return Vocabulary(std::move(units), /*word_units=*/false);
}

absl::StatusOr<Vocabulary> Vocabulary::CreateWords(const std::vector<std::string>& words) {
  if (words.empty()) return absl::InvalidArgumentError("word_units: empty");
  std::unordered_map<std::string, int> seen;
  for (const std::string& w : words) {
    if (w.empty()) return absl::InvalidArgumentError("word_units: empty word");
    for (char c : w) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u <= 32 || u > 126 || std::isupper(u)) {
        return absl::InvalidArgumentError(
            absl::StrCat("word_units: '", w, "' is not lowercase printable ASCII without spaces"));
      }
    }
    if (seen[w]++) return absl::InvalidArgumentError(absl::StrCat("word_units: '", w, "' repeated"));
  }
  return Vocabulary(words, /*word_units=*/true);
}

int64_t Vocabulary::Id(char ch) const { return char_id_[static_cast<unsigned char>(ch)]; }

std::string Vocabulary::Normalize(const std::string& text) const {
  std::string out;
  bool pending_space = false;
  for (char raw : text) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    if (c == ' ' || !kept_[static_cast<unsigned char>(c)]) {
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
  if (norm.empty())
    return absl::InvalidArgumentError(absl::StrCat("transcript '", text, "' has no vocabulary symbols"));
  std::vector<int64_t> ids;
  if (!word_units_) {
    ids.reserve(norm.size());
    for (char c : norm) ids.push_back(Id(c));
    return ids;
  }
  for (absl::string_view w : absl::StrSplit(norm, ' ')) {
    const auto it = word_id_.find(std::string(w));
    if (it == word_id_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("transcript '", text, "': word '", w, "' is not a word unit"));
    }
    ids.push_back(it->second);
  }
  return ids;
}

std::string Vocabulary::Decode(const std::vector<int64_t>& ids) const {
  std::vector<absl::string_view> units;
  for (int64_t id : ids) {
    if (id > 0 && id < size()) units.push_back(Unit(id));
  }
  return absl::StrJoin(units, word_units_ ? " " : "");
}

}  // namespace asr
