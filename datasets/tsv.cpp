#include "datasets/tsv.h"

#include <fmt/format.h>

#include "core/error.h"
#include "datasets/source_files.h"

namespace dq {

TsvReader::TsvReader(std::string path) : path_(std::move(path)) {
  text_ = read_text_file(path_);
  if (text_.rfind("\xEF\xBB\xBF", 0) == 0) pos_ = 3;  // UTF-8 byte-order mark
  if (!parse_record(header_)) throw Error(fmt::format("{}: empty file (expected a header row)", path_));
  row_ = 0;
}

std::optional<size_t> TsvReader::find_column(const std::string& name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return i;
  return std::nullopt;
}

size_t TsvReader::column(const std::string& name) const {
  if (auto i = find_column(name)) return *i;
  std::string names;
  for (const auto& h : header_) names += (names.empty() ? "" : ", ") + (h.empty() ? std::string("<empty>") : h);
  throw Error(fmt::format("{}:1: missing required column '{}' (header: {})", path_, name, names));
}

// One record starting at pos_; false at the end of the text.
bool TsvReader::parse_record(std::vector<std::string>& fields) {
  // Skip blank lines (pandas.read_csv does too).
  while (pos_ < text_.size() && (text_[pos_] == '\n' || (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n'))) {
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    ++next_line_;
  }
  if (pos_ >= text_.size()) return false;
  line_ = next_line_;
  fields.clear();
  for (;;) {
    std::string field;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size())
          throw Error(fmt::format("{}:{}: quoted field never closed (missing '\"' before the end of the file)", path_, line_));
        const char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field += '"';
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++next_line_;
        field += c;
      }
    }
    // Unquoted field, or text after a closing quote (kept, as Python's csv module does).
    while (pos_ < text_.size() && text_[pos_] != '\t' && text_[pos_] != '\n') field += text_[pos_++];
    if (!field.empty() && field.back() == '\r' && (pos_ >= text_.size() || text_[pos_] == '\n')) field.pop_back();
    fields.push_back(std::move(field));
    if (pos_ >= text_.size()) break;
    if (text_[pos_++] == '\n') {
      ++next_line_;
      break;
    }
  }
  ++row_;
  if (!header_.empty() && fields.size() != header_.size())
    throw Error(fmt::format("{}:{}: row {} has {} fields, the header has {}", path_, line_, row_, fields.size(),
                            header_.size()));
  return true;
}

bool TsvReader::next(std::vector<std::string>& fields) { return parse_record(fields); }

}  // namespace dq
