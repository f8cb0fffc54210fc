#include "datasets/imagenet_labels.h"

#include <fmt/format.h>

#include <charconv>
#include <sstream>

#include "core/error.h"
#include "datasets/source_files.h"

namespace dq {

namespace {

std::vector<std::string> split_ws(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

bool parse_int(const std::string& text, int64_t* out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size();
}

bool looks_like_wnid(const std::string& s) {
  if (s.size() != 9 || s[0] != 'n') return false;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

}  // namespace

std::map<int64_t, std::string> read_synset_ids(const std::string& path) {
  std::map<int64_t, std::string> out;
  const auto lines = read_text_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto tokens = split_ws(lines[i]);
    if (tokens.empty()) continue;
    int64_t id = 0;
    std::string wnid;
    if (parse_int(tokens[0], &id) && tokens.size() >= 2) wnid = tokens[1];
    else id = static_cast<int64_t>(i) + 1, wnid = tokens[0];
    if (!looks_like_wnid(wnid))
      throw Error(fmt::format("{}:{}: expected 'ILSVRC2012_ID WNID' or 'WNID' (a WNID is n + 8 digits), got '{}'",
                              path, i + 1, lines[i]));
    if (!out.emplace(id, wnid).second) throw Error(fmt::format("{}:{}: ILSVRC2012_ID {} appears twice", path, i + 1, id));
  }
  if (out.empty()) throw Error(fmt::format("{}: no synsets", path));
  return out;
}

std::vector<int64_t> read_ground_truth(const std::string& path) {
  std::vector<int64_t> out;
  const auto lines = read_text_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto tokens = split_ws(lines[i]);
    int64_t id = 0;
    if (tokens.size() != 1 || !parse_int(tokens[0], &id) || id < 1)
      throw Error(fmt::format("{}:{}: expected one ILSVRC2012_ID (a positive integer), got '{}'", path, i + 1, lines[i]));
    out.push_back(id);
  }
  return out;
}

std::map<std::string, int64_t> read_caffe_val(const std::string& path) {
  std::map<std::string, int64_t> out;
  const auto lines = read_text_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto tokens = split_ws(lines[i]);
    int64_t index = 0;
    if (tokens.size() != 2 || !parse_int(tokens[1], &index) || index < 0)
      throw Error(fmt::format("{}:{}: expected '<file name> <class index>', got '{}'", path, i + 1, lines[i]));
    out[tokens[0]] = index;
  }
  return out;
}

std::vector<std::string> read_synset_words(const std::string& path) {
  std::vector<std::string> out;
  const auto lines = read_text_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto tokens = split_ws(lines[i]);
    if (tokens.empty() || !looks_like_wnid(tokens[0]))
      throw Error(fmt::format("{}:{}: expected '<WNID> <words>', got '{}'", path, i + 1, lines[i]));
    out.push_back(tokens[0]);
  }
  return out;
}

std::map<std::string, std::string> read_kaggle_val_solution(const std::string& path) {
  std::map<std::string, std::string> out;
  const auto lines = read_text_lines(path);
  if (lines.empty() || lines[0].rfind("ImageId,PredictionString", 0) != 0)
    throw Error(fmt::format("{}:1: expected the header 'ImageId,PredictionString'", path));
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto comma = lines[i].find(',');
    const auto tokens = comma == std::string::npos ? std::vector<std::string>{} : split_ws(lines[i].substr(comma + 1));
    if (tokens.empty() || !looks_like_wnid(tokens[0]))
      throw Error(fmt::format("{}:{}: expected 'ImageId,<WNID> x y x y ...', got '{}'", path, i + 1, lines[i]));
    out[lines[i].substr(0, comma)] = tokens[0];
  }
  return out;
}

int64_t ilsvrc_val_number(const std::string& name) {
  static const std::string prefix = "ILSVRC2012_val_";
  if (name.rfind(prefix, 0) != 0) return -1;
  const auto dot = name.find('.', prefix.size());
  int64_t number = 0;
  if (!parse_int(name.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size()), &number))
    return -1;
  return number;
}

}  // namespace dq
