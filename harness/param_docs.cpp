#include "harness/param_docs.h"

#include <fmt/format.h>

#include <algorithm>

#include "datasets/dataset.h"
#include "methods/method.h"
#include "patching/patch_stage.h"
#include "models/models.h"

namespace dq {
namespace {

std::string number(double v) { return fmt::format("{}", v); }

// "one of a, b", "[1, 1000]", ">= 0", or "" for free values.
std::string allowed(const ParamSpec& p, bool markdown) {
  if (!p.choices.empty()) {
    std::string out;
    for (const auto& c : p.choices) out += (out.empty() ? "" : markdown ? ", " : "|") + (markdown ? "`" + c + "`" : c);
    return out;
  }
  if (p.min && p.max) return fmt::format("[{}, {}]", number(*p.min), number(*p.max));
  if (p.min) return ">= " + number(*p.min);
  if (p.max) return "<= " + number(*p.max);
  return "";
}

// A Markdown table cell: pipes escaped, so help text like ||x||^2 stays in its column.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string default_text(const ParamSpec& p, bool markdown) {
  const std::string v = param_value_to_string(p.default_value);
  if (!markdown) return v.empty() ? "''" : v;
  return v.empty() ? "(empty)" : "`" + cell(v) + "`";
}

}  // namespace

std::string describe_plugins(const std::vector<PluginDoc>& plugins, TableFormat format) {
  const bool md = format == TableFormat::Markdown;
  std::string out;
  for (const PluginDoc& doc : plugins) {
    const std::string origin = doc.library.empty() ? "" : fmt::format(" (plugin: {})", doc.library);
    const auto& params = *doc.params;
    if (!md) {
      out += fmt::format("{}: {}{}\n", doc.name, doc.description, origin);
      for (const auto& p : params) {
        const std::string values = allowed(p, false);
        out += fmt::format("    {:<16} {:<6} = {:<12} {}{}\n", p.name, param_type_name(p.type), default_text(p, false),
                           p.help, values.empty() ? "" : " {" + values + "}");
      }
      continue;
    }
    out += fmt::format("### `{}`\n\n{}{}\n\n", doc.name, doc.description, origin);
    if (params.empty()) {
      out += "No parameters.\n\n";
      continue;
    }
    out += "| param | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
    for (const auto& p : params)
      out += fmt::format("| `{}` | {} | {} | {} | {} |\n", p.name, param_type_name(p.type), default_text(p, true),
                         cell(allowed(p, true)), cell(p.help));
    out += "\n";
  }
  return out;
}

std::string describe_methods(TableFormat format) {
  std::vector<PluginDoc> docs;
  for (const MethodInfo* m : MethodRegistry::instance().list())
    docs.push_back({m->name, m->description, &m->params, m->library});
  return describe_plugins(docs, format);
}

std::string describe_dataset_kinds(TableFormat format) {
  std::vector<PluginDoc> docs;
  for (const DatasetLoaderInfo* d : DatasetRegistry::instance().list()) docs.push_back({d->kind, d->description, &d->params});
  return describe_plugins(docs, format);
}

std::string describe_recipes() {
  const std::vector<ParamSpec> train = train_recipe_specs();
  std::vector<ParamSpec> extractor_own;  // the extractor's keys besides the recipe's
  for (const auto& s : extractor_specs())
    if (std::none_of(train.begin(), train.end(), [&](const ParamSpec& t) { return t.name == s.name; }))
      extractor_own.push_back(s);
  const std::vector<ParamSpec> patches = patch_specs();
  std::string out = describe_plugins(
      {{"train", "the target network's training recipe (`train:`)", &train},
       {"extractor", "the extractor's own keys; kind `proxy` also takes every `train:` key and `preset`", &extractor_own},
       {"patches", "the patch stage (`patches:`) of the methods that declare patch dropping", &patches}},
      TableFormat::Markdown);
  for (const auto& preset : recipe_presets()) {
    out += fmt::format("### `{}`\n\n{}\n\n| key | value |\n|---|---|\n", preset.name, preset.description);
    for (const auto& [k, v] : preset.values) out += fmt::format("| `{}` | `{}` |\n", k, v);
    out += "\n";
  }
  return out;
}

}  // namespace dq
