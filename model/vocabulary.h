// The output alphabet of a CTC model: index 0 is the CTC blank, then one
// symbol per character. The default is space, apostrophe, a-z. Text is
// normalized before encoding: lowercased, characters outside the
// vocabulary turned into word breaks, runs of spaces collapsed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr {

class Vocabulary {
 public:
  static constexpr int64_t kBlank = 0;
  static constexpr const char* kDefaultSymbols = " 'abcdefghijklmnopqrstuvwxyz";

  Vocabulary() : Vocabulary(kDefaultSymbols) {}
  // Symbols are single bytes; they must be unique, printable ASCII, and
  // include ' ' (the word separator).
  static absl::StatusOr<Vocabulary> Create(const std::string& symbols);

  int64_t size() const { return static_cast<int64_t>(symbols_.size()) + 1; }  // with the blank
  const std::string& symbols() const { return symbols_; }
  int64_t space() const { return Id(' '); }

  // Lowercase; symbols outside the vocabulary become spaces; spaces
  // collapsed and trimmed. "Don't stop, 7!" -> "don't stop".
  std::string Normalize(const std::string& text) const;
  // Normalize()d text -> ids (1..size()-1). Fails if the text has no symbol left.
  absl::StatusOr<std::vector<int64_t>> Encode(const std::string& text) const;
  // ids (blank ignored) -> text.
  std::string Decode(const std::vector<int64_t>& ids) const;
  // Id of character ch, or -1.
  int64_t Id(char ch) const;
  char Symbol(int64_t id) const { return symbols_[static_cast<size_t>(id - 1)]; }

 private:
  explicit Vocabulary(std::string symbols);
  std::string symbols_;
  int64_t index_[256];
};

}  // namespace asr
