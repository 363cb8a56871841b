// The output units of a CTC model: index 0 is the CTC blank, then one id per
// unit. Units are either characters (the default: space, apostrophe, a-z;
// the space unit separates words) or whole words (a closed vocabulary such
// as the eleven digit words: every emitted unit is one word, and no space
// unit exists). Text is normalized before encoding: lowercased, characters
// that occur in no unit (word units: nor are letters, digits or ') turned
// into word breaks, runs of spaces collapsed.
// Immutable after creation; copies are cheap enough to hold per decoder.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace asr {

class Vocabulary {
 public:
  static constexpr int64_t kBlank = 0;
  static constexpr const char* kDefaultSymbols = " 'abcdefghijklmnopqrstuvwxyz";

  Vocabulary() : Vocabulary(*Create(kDefaultSymbols)) {}
  // Character units. Symbols are single bytes; they must be unique,
  // printable ASCII, and include ' ' (the word separator).
  static absl::StatusOr<Vocabulary> Create(const std::string& symbols);
  // Word units, in id order (ids 1..words.size()). Each must be non-empty,
  // unique, lowercase printable ASCII without spaces.
  static absl::StatusOr<Vocabulary> CreateWords(const std::vector<std::string>& words);

  bool word_units() const { return word_units_; }
  int64_t size() const { return static_cast<int64_t>(units_.size()) + 1; }  // with the blank
  // Id of the space unit; -1 for word units.
  int64_t space() const { return word_units_ ? -1 : Id(' '); }

  // Lowercase; other characters (see above) become spaces; spaces
  // collapsed and trimmed. Characters: "Don't stop, 7!" -> "don't stop".
  std::string Normalize(const std::string& text) const;
  // Normalize()d text -> ids (1..size()-1). Fails if no symbol is left, or
  // (word units) naming the first word that is not a unit.
  absl::StatusOr<std::vector<int64_t>> Encode(const std::string& text) const;
  // ids (blank ignored) -> text: characters concatenated, words joined by ' '.
  std::string Decode(const std::vector<int64_t>& ids) const;
  // Id of the character unit ch, or -1 (always -1 for word units).
  int64_t Id(char ch) const;
  // The text of unit `id` (1..size()-1).
  const std::string& Unit(int64_t id) const { return units_[static_cast<size_t>(id - 1)]; }

 private:
  Vocabulary(std::vector<std::string> units, bool word_units);
  std::vector<std::string> units_;
  bool word_units_ = false;
  bool kept_[256] = {};                               // characters Normalize() keeps
  int64_t char_id_[256];                              // character units
  std::unordered_map<std::string, int64_t> word_id_;  // word units
};

}  // namespace asr
