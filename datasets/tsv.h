#pragma once
// Reading tab-separated files as pandas' to_csv(sep='\t') writes them: a header row (whose first
// name may be empty: the index column), fields holding a tab, quote or newline wrapped in double
// quotes with inner quotes doubled, "\n" or "\r\n" row ends, empty fields for missing values.
// Columns are looked up by name, never by position.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dq {

class TsvReader {
 public:
  // Reads the whole file and its header. Throws dq::Error naming the file (missing, empty).
  explicit TsvReader(std::string path);

  const std::vector<std::string>& header() const { return header_; }
  std::optional<size_t> find_column(const std::string& name) const;
  // Throws dq::Error naming the file, the missing column and the header found.
  size_t column(const std::string& name) const;

  // Reads the next row into `fields`; false at the end. Throws dq::Error with file:line for an
  // unterminated quote or a row whose field count differs from the header's. Blank lines are skipped.
  bool next(std::vector<std::string>& fields);
  int64_t row() const { return row_; }    // 1-based index of the last row read (header excluded)
  int64_t line() const { return line_; }  // 1-based line on which the last row started
  const std::string& path() const { return path_; }

 private:
  bool parse_record(std::vector<std::string>& fields);
  std::string path_, text_;
  size_t pos_ = 0;
  int64_t next_line_ = 1, line_ = 0, row_ = 0;
  std::vector<std::string> header_;
};

}  // namespace dq
