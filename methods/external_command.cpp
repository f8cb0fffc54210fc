#include "methods/external_command.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace dq {

namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Walks `arg`, calling literal(text) for plain text and placeholder(name) for each `{name}`.
template <typename Literal, typename Placeholder>
void scan(const std::string& arg, Literal literal, Placeholder placeholder) {
  size_t i = 0;
  while (i < arg.size()) {
    const char c = arg[i];
    if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
      literal(std::string(1, c));
      i += 2;
      continue;
    }
    if (c == '{' && i + 1 < arg.size() && is_name_start(arg[i + 1])) {
      size_t j = i + 1;
      while (j < arg.size() && is_name_char(arg[j])) ++j;
      if (j < arg.size() && arg[j] == '}') {
        placeholder(arg.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    literal(std::string(1, c));
    ++i;
  }
}

}  // namespace

CommandTemplate::CommandTemplate(const std::string& text, const std::string& where) {
  std::string current;
  bool in_arg = false;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_arg) args_.push_back(current);
      current.clear();
      in_arg = false;
      ++i;
    } else if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == std::string::npos)
        throw Error(fmt::format("{}: unterminated ' in command: {}", where, text));
      current += text.substr(i + 1, close - i - 1);
      in_arg = true;
      i = close + 1;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '"' || text[j + 1] == '\\')) ++j;
        current += text[j];
      }
      if (j >= text.size()) throw Error(fmt::format("{}: unterminated \" in command: {}", where, text));
      in_arg = true;
      i = j + 1;
    } else if (c == '\\' && i + 1 < text.size()) {
      current += text[i + 1];
      in_arg = true;
      i += 2;
    } else {
      current += c;
      in_arg = true;
      ++i;
    }
  }
  if (in_arg) args_.push_back(current);
  if (args_.empty()) throw Error(fmt::format("{}: the command is empty", where));
  for (const auto& arg : args_) scan(arg, [](const std::string&) {}, [&](const std::string& name) { placeholders_.insert(name); });
}

std::vector<std::string> CommandTemplate::expand(const std::map<std::string, std::string>& values,
                                                 const std::string& where) const {
  std::vector<std::string> out;
  for (const auto& arg : args_) {
    std::string expanded;
    scan(arg, [&](const std::string& text) { expanded += text; },
         [&](const std::string& name) {
           auto it = values.find(name);
           if (it == values.end()) {
             std::string known;
             for (const auto& [k, _] : values) known += (known.empty() ? "" : ", ") + k;
             throw Error(fmt::format("{}: the command uses {{{}}} but params has no '{}' (params: {})", where, name,
                                     name, known.empty() ? "none" : known));
           }
           expanded += it->second;
         });
    out.push_back(std::move(expanded));
  }
  return out;
}

std::string absolutize_file_arguments(std::vector<std::string>& argv) {
  std::string program_file, script;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string& arg = argv[i];
    if (arg.empty() || (i == 0 && arg.find('/') == std::string::npos)) continue;
    std::error_code ec;
    const std::filesystem::path p(arg);
    if (!std::filesystem::is_regular_file(p, ec)) continue;
    if (p.is_relative()) arg = std::filesystem::absolute(p, ec).lexically_normal().string();
    if (i == 0) program_file = arg;
    else if (script.empty()) script = arg;
  }
  return script.empty() ? program_file : script;
}

std::string shell_quote_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    bool plain = !arg.empty();
    for (char c : arg)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=:,+@%").find(c) != std::string_view::npos))
        plain = false;
    std::string quoted;
    if (plain) {
      quoted = arg;
    } else {
      quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "'";
    }
    out += (out.empty() ? "" : " ") + quoted;
  }
  return out;
}

}  // namespace dq
