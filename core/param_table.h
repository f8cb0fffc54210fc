#pragma once
// Each parameter declared once: a ParamTable<Options> binds every row (name, help, choices,
// bounds) to a member of the plugin's option struct. The member's type gives the
// parameter's type, the member's value in the struct's defaults gives the parameter's default, and
// parse() fills a copy of the defaults from validated Params, so a parameter's name appears in its
// row only and a typo cannot reach run time. Enum members are parsed here, at the edge: the spec
// lists their names as its choices. In the spirit of LightGBM's config.h, in C++20 form:
//
//   struct Options { int64_t k = 20; Mode mode = Mode::Exact; };
//   const ParamTable<Options> table{{
//       field({.name = "k", .help = "neighbours per sample", .min = 1, .max = 1000}, &Options::k),
//       field({.name = "mode", .help = "..."}, named_values({Mode::Exact, Mode::Fast}, mode_name), &Options::mode),
//   }};
//   Options o = table.parse(params);   // MethodInfo::params = table.specs()
//   Params p = table.params_of(o, "owner");  // back to named values (identity text, listings)
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/params.h"

namespace dq {

template <class T>
inline constexpr bool is_param_value_type_v = std::is_same_v<T, int64_t> || std::is_same_v<T, double> ||
                                              std::is_same_v<T, std::string> || std::is_same_v<T, bool>;

template <class T>
constexpr ParamType param_type_of() {
  static_assert(is_param_value_type_v<T>, "a parameter holds int64_t, double, std::string or bool");
  if constexpr (std::is_same_v<T, int64_t>) return ParamType::Int;
  else if constexpr (std::is_same_v<T, double>) return ParamType::Double;
  else if constexpr (std::is_same_v<T, std::string>) return ParamType::String;
  else return ParamType::Bool;
}

// How a member of type Member is given as a parameter of type Param (one of the ParamValue types):
// `to_param` gives the parameter's value of a member value (for the default), `from_param` the
// member's value of a validated parameter value; `choices` (String only) are the allowed names.
template <class Member, class Param>
struct ParamCodec {
  std::function<Param(const Member&)> to_param;
  std::function<Member(const Param&)> from_param;
  std::vector<std::string> choices{};
};

// An enum (or bool) given by name: `values` lists every allowed value, `name` names each; the names
// are the parameter's choices, so a name outside them is refused (naming the key and the allowed
// values) when the parameter is set, and the member never holds a string.
template <class E, class NameFn>
ParamCodec<E, std::string> named_values(std::initializer_list<E> value_list, NameFn name) {
  std::vector<E> values(value_list);
  std::vector<std::string> names;
  for (const E& v : values) names.emplace_back(name(v));
  return {[name](const E& v) { return std::string(name(v)); },
          [values, names](const std::string& text) {
            for (size_t i = 0; i < names.size(); ++i)
              if (names[i] == text) return values[i];
            DQ_ASSERT(false, "a named value outside its choices passed validation: " + text);
            return values.front();
          },
          names};
}

// What a table row states about a parameter, written with designated initialisers
// ({.name = "k", .help = "...", .min = 1}); its type and default come from the member it is bound to.
struct ParamRow {
  std::string name;
  std::string help{};
  std::vector<std::string> choices{};  // for a String: allowed values (a named_values codec sets them)
  std::optional<double> min{};         // for an Int or Double: inclusive bounds
  std::optional<double> max{};
  bool omit_at_default = false;        // see ParamSpec::omit_at_default
};

namespace detail {
inline ParamSpec spec_of(ParamRow row, ParamType type) {
  ParamSpec spec;
  spec.name = std::move(row.name);
  spec.type = type;
  spec.help = std::move(row.help);
  spec.choices = std::move(row.choices);
  spec.min = row.min;
  spec.max = row.max;
  spec.omit_at_default = row.omit_at_default;
  return spec;
}
}  // namespace detail

// One row of a ParamTable: the spec, and how to read and write the member it is bound to.
template <class Options>
struct ParamField {
  ParamSpec spec;
  std::function<ParamValue(const Options&)> get;
  std::function<void(Options&, const ParamValue&)> set;
};

namespace detail {
template <class T, class M>
decltype(auto) member_at(T& object, M member) {
  return (object.*member);
}
template <class T, class M, class... Rest>
decltype(auto) member_at(T& object, M member, Rest... rest) {
  return member_at(object.*member, rest...);
}
}  // namespace detail

// A parameter bound to the member reached through `path` (&Options::alpha, or &Options::knn,
// &KnnGraphOptions::k for a member of a nested struct): the row's name, help, choices and bounds,
// the member's type and (in the table) default.
template <class Options, class M, class... Rest>
ParamField<Options> field(ParamRow row, M Options::*first, Rest... rest) {
  using T = std::remove_cvref_t<decltype(detail::member_at(std::declval<Options&>(), first, rest...))>;
  return {detail::spec_of(std::move(row), param_type_of<T>()),
          [first, rest...](const Options& o) { return ParamValue(std::in_place_type<T>, detail::member_at(o, first, rest...)); },
          [first, rest...](Options& o, const ParamValue& v) { detail::member_at(o, first, rest...) = std::get<T>(v); }};
}

// The same through a codec, for members held in another form than the parameter (an enum, bytes
// given in MiB).
template <class Member, class Param, class Options, class M, class... Rest>
ParamField<Options> field(ParamRow row, ParamCodec<Member, Param> codec, M Options::*first, Rest... rest) {
  using T = std::remove_cvref_t<decltype(detail::member_at(std::declval<Options&>(), first, rest...))>;
  static_assert(std::is_same_v<T, Member>, "the codec converts another member type");
  if (!codec.choices.empty()) row.choices = codec.choices;
  return {detail::spec_of(std::move(row), param_type_of<Param>()),
          [first, rest..., to = codec.to_param](const Options& o) {
            return ParamValue(std::in_place_type<Param>, to(detail::member_at(o, first, rest...)));
          },
          [first, rest..., from = codec.from_param](Options& o, const ParamValue& v) {
            detail::member_at(o, first, rest...) = from(std::get<Param>(v));
          }};
}

template <class Options>
class ParamTable {
 public:
  // `fields` (then `more`, for a family's shared fields followed by a method's own) in listing
  // order; defaults are read from `defaults` (a default-constructed Options unless given).
  explicit ParamTable(std::vector<ParamField<Options>> fields, std::vector<ParamField<Options>> more = {},
                      Options defaults = {})
      : fields_(std::move(fields)), defaults_(std::move(defaults)) {
    for (auto& f : more) fields_.push_back(std::move(f));
    for (auto& f : fields_) {
      f.spec.default_value = f.get(defaults_);
      DQ_ASSERT(f.spec.default_value.index() == static_cast<size_t>(f.spec.type), "parameter type and default differ");
      specs_.push_back(f.spec);
    }
  }

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const Options& defaults() const { return defaults_; }

  // The options of validated `params` (made from specs()): every bound member assigned.
  Options parse(const Params& params) const {
    Options out = defaults_;
    for (const auto& f : fields_) {
      const auto it = params.values().find(f.spec.name);
      DQ_ASSERT(it != params.values().end(), params.owner() + ": no value for parameter " + f.spec.name);
      f.set(out, it->second);
    }
    return out;
  }

  // The parameters of `options` (owner `owner`, every row's value read from its member): parse()'s
  // inverse, for what is keyed by the parameters' text (cell ids, cache keys, exported settings).
  Params params_of(const Options& options, std::string owner) const {
    Params out(std::move(owner), specs_);
    for (const auto& f : fields_) out.set_value(f.spec.name, f.get(options));
    return out;
  }

 private:
  std::vector<ParamField<Options>> fields_;
  Options defaults_;
  std::vector<ParamSpec> specs_;
};

}  // namespace dq
