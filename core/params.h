#pragma once
// One annotated list of parameters per plugin (method, dataset loader, extractor) drives parsing,
// validation, defaults and the `dqbench methods` listing, in the spirit of LightGBM's config.h.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dq {

enum class ParamType { Int, Double, String, Bool };
using ParamValue = std::variant<int64_t, double, std::string, bool>;

struct ParamSpec {
  std::string name;
  ParamType type;
  ParamValue default_value;
  std::string help;
  std::vector<std::string> choices;  // for String: allowed values (empty = free text)
  std::optional<double> min;         // for Int/Double: inclusive bounds
  std::optional<double> max;
  // For a key added after results were recorded: left out of values_for_identity() (cell ids, cache
  // keys) while it holds its default, so adding it does not orphan existing databases and caches.
  bool omit_at_default = false;
};

const char* param_type_name(ParamType type);
std::string param_value_to_string(const ParamValue& value);

// A validated set of values for one plugin: every key is declared, every value has the declared type.
class Params {
 public:
  Params() = default;
  // `owner` names the plugin in error messages ("method 'bgfdq'").
  Params(std::string owner, std::vector<ParamSpec> specs);

  // Sets from text (spec strings "k=20", YAML scalars). `where` locates the value for errors
  // ("experiments/x.yaml:12:5"). Unknown keys, bad types and out-of-range values throw dq::Error.
  void set_from_text(const std::string& key, const std::string& text, const std::string& where);
  // Sets an already typed value (a ParamTable writing options back as parameters): the key must be
  // declared and the value of its type (DQ_ASSERT; values from a user go through set_from_text).
  void set_value(const std::string& key, ParamValue value);

  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;  // Int values widen
  const std::string& get_string(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) != 0; }

  const std::map<std::string, ParamValue>& values() const { return values_; }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  const std::string& owner() const { return owner_; }
  // The values that make up identity: all of them, less omit_at_default keys at their default.
  std::map<std::string, ParamValue> values_for_identity() const;
  // Canonical text form "a=1,b=x" of values_for_identity(), keys sorted: part of cell identity and cache keys.
  std::string canonical() const;

 private:
  const ParamSpec& spec(const std::string& name, const std::string& where) const;
  std::string owner_;
  std::vector<ParamSpec> specs_;
  std::map<std::string, ParamValue> values_;
};

// FAISS-style spec string: "bgfdq(k=20,alpha=1.5,knn=PCA64,Flat)" -> name + ordered key/value pairs.
// Values may contain commas when they do not look like "key=" (so FAISS factory strings survive).
struct SpecString {
  std::string name;
  std::vector<std::pair<std::string, std::string>> args;
};
SpecString parse_spec_string(const std::string& text, const std::string& where);

}  // namespace dq
