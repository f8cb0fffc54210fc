#include "core/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "core/text_escape.h"

namespace dq {

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Int: return "int";
    case ParamType::Double: return "float";
    case ParamType::String: return "string";
    case ParamType::Bool: return "bool";
  }
  return "?";
}

std::string param_value_to_string(const ParamValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return v;
        else if constexpr (std::is_same_v<T, double>) return fmt::format("{}", v);  // shortest round-trip
        else return std::to_string(v);
      },
      value);
}

Params::Params(std::string owner, std::vector<ParamSpec> specs) : owner_(std::move(owner)), specs_(std::move(specs)) {
  for (const auto& s : specs_) values_[s.name] = s.default_value;
}

const ParamSpec& Params::spec(const std::string& name, const std::string& where) const {
  for (const auto& s : specs_)
    if (s.name == name) return s;
  std::string known;
  for (const auto& s : specs_) known += (known.empty() ? "" : ", ") + s.name;
  throw Error(fmt::format("{}: unknown parameter '{}' for {} (known: {})", where, name, owner_,
                          known.empty() ? "none" : known));
}

namespace {
std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}
}  // namespace

void Params::set_from_text(const std::string& key, const std::string& raw, const std::string& where) {
  const ParamSpec& s = spec(key, where);
  const std::string text = trim(raw);
  auto bad = [&](const char* expected) {
    return Error(fmt::format("{}: parameter '{}' of {} expects {}, got '{}'", where, key, owner_, expected, text));
  };
  ParamValue value;
  switch (s.type) {
    case ParamType::Int: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty()) throw bad("an integer");
      value = v;
      break;
    }
    case ParamType::Double: {
      size_t pos = 0;
      double v = 0;
      try {
        v = std::stod(text, &pos);
      } catch (const std::exception&) {
        throw bad("a number");
      }
      if (pos != text.size() || !std::isfinite(v)) throw bad("a number");
      value = v;
      break;
    }
    case ParamType::Bool: {
      std::string t = text;
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
      if (t == "true" || t == "on" || t == "yes" || t == "1") value = true;
      else if (t == "false" || t == "off" || t == "no" || t == "0") value = false;
      else throw bad("true/false (or on/off)");
      break;
    }
    case ParamType::String: {
      if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), text) == s.choices.end()) {
        std::string list;
        for (const auto& c : s.choices) list += (list.empty() ? "" : "|") + c;
        throw bad(("one of " + list).c_str());
      }
      value = text;
      break;
    }
  }
  if (s.type == ParamType::Int || s.type == ParamType::Double) {
    double v = s.type == ParamType::Int ? static_cast<double>(std::get<int64_t>(value)) : std::get<double>(value);
    if ((s.min && v < *s.min) || (s.max && v > *s.max))
      throw Error(fmt::format("{}: parameter '{}' of {} is {}, outside [{}, {}]", where, key, owner_, text,
                              s.min ? fmt::format("{}", *s.min) : "-inf", s.max ? fmt::format("{}", *s.max) : "inf"));
  }
  values_[key] = std::move(value);
}

void Params::set_value(const std::string& key, ParamValue value) {
  const auto it = values_.find(key);
  DQ_ASSERT(it != values_.end() && it->second.index() == value.index(), owner_ + ": no parameter " + key + " of this type");
  it->second = std::move(value);
}

int64_t Params::get_int(const std::string& name) const {
  auto it = values_.find(name);
  DQ_ASSERT(it != values_.end() && std::holds_alternative<int64_t>(it->second), owner_ + ": no int param " + name);
  return std::get<int64_t>(it->second);
}
double Params::get_double(const std::string& name) const {
  auto it = values_.find(name);
  DQ_ASSERT(it != values_.end(), owner_ + ": no param " + name);
  if (std::holds_alternative<int64_t>(it->second)) return static_cast<double>(std::get<int64_t>(it->second));
  DQ_ASSERT(std::holds_alternative<double>(it->second), owner_ + ": param is not a number: " + name);
  return std::get<double>(it->second);
}
const std::string& Params::get_string(const std::string& name) const {
  auto it = values_.find(name);
  DQ_ASSERT(it != values_.end() && std::holds_alternative<std::string>(it->second),
            owner_ + ": no string param " + name);
  return std::get<std::string>(it->second);
}
bool Params::get_bool(const std::string& name) const {
  auto it = values_.find(name);
  DQ_ASSERT(it != values_.end() && std::holds_alternative<bool>(it->second), owner_ + ": no bool param " + name);
  return std::get<bool>(it->second);
}

std::map<std::string, ParamValue> Params::values_for_identity() const {
  std::map<std::string, ParamValue> out = values_;
  for (const auto& s : specs_)
    if (s.omit_at_default) {
      const auto it = out.find(s.name);
      if (it != out.end() && it->second == s.default_value) out.erase(it);
    }
  return out;
}

std::string Params::canonical() const {
  std::string out;
  for (const auto& [k, v] : values_for_identity()) out += (out.empty() ? "" : ",") + k + "=" + param_value_to_string(v);
  return out;
}

SpecString parse_spec_string(const std::string& text_in, const std::string& where) {
  // Its values become JSON (cell ids, an external method's cell.json), which must be UTF-8.
  if (const size_t bad = invalid_utf8_at(text_in); bad != std::string::npos)
    throw Error(fmt::format("{}: spec is not UTF-8 text (byte 0x{:02x} at offset {})", where,
                            static_cast<unsigned char>(text_in[bad]), bad));
  const std::string text = trim(text_in);
  SpecString out;
  const auto open = text.find('(');
  if (open == std::string::npos) {
    out.name = text;
  } else {
    if (text.back() != ')')
      throw Error(fmt::format("{}: spec '{}' opens '(' but does not end with ')'", where, text));
    out.name = trim(text.substr(0, open));
    const std::string body = text.substr(open + 1, text.size() - open - 2);
    // Split on commas that start a new "key=" item; other commas stay inside the value.
    std::vector<std::string> items;
    std::string current;
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == ',') {
        size_t j = i + 1;
        while (j < body.size() && std::isspace(static_cast<unsigned char>(body[j]))) ++j;
        const size_t key_start = j;
        while (j < body.size() && (std::isalnum(static_cast<unsigned char>(body[j])) || body[j] == '_')) ++j;
        if (j < body.size() && body[j] == '=' && j > key_start) {
          items.push_back(current);
          current.clear();
          continue;
        }
      }
      current += body[i];
    }
    if (!trim(current).empty() || !items.empty()) items.push_back(current);
    for (const auto& item : items) {
      const auto eq = item.find('=');
      if (eq == std::string::npos)
        throw Error(fmt::format("{}: '{}' in spec '{}' is not key=value", where, trim(item), text));
      const std::string key = trim(item.substr(0, eq));
      for (const auto& [seen, _] : out.args)  // as a YAML mapping refuses a key given twice
        if (seen == key) throw Error(fmt::format("{} (key '{}'): duplicate key in spec '{}'", where, key, text));
      out.args.emplace_back(key, trim(item.substr(eq + 1)));
    }
  }
  if (out.name.empty()) throw Error(fmt::format("{}: empty name in spec '{}'", where, text));
  return out;
}

}  // namespace dq
