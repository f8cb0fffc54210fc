#include "methods/method.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/rng.h"

namespace dq {

std::vector<ClassSelection> PerClassMethod::select(std::span<const ClassView> classes, const SelectContext& ctx) {
  std::vector<ClassSelection> out;
  out.reserve(classes.size());
  for (const auto& cls : classes) out.push_back(select_class(cls, derive_seed(ctx.seed, static_cast<uint64_t>(cls.label)), ctx));
  return out;
}

int64_t budget_count(double ratio, int64_t class_size, double drop_ratio) {
  DQ_ASSERT(drop_ratio >= 0 && drop_ratio < 1, "drop ratio must be in [0,1)");
  const double want = ratio * static_cast<double>(class_size) / (1.0 - drop_ratio);
  const int64_t n = std::llround(want);
  return std::clamp<int64_t>(n, 0, class_size);
}

double storage_budget(double ratio, int64_t class_size) { return ratio * static_cast<double>(class_size) + 0.5; }

template class Registry<MethodInfo>;

template <>
MethodRegistry& MethodRegistry::instance() {
  static MethodRegistry registry("method", &MethodInfo::name, &MethodInfo::library);
  return registry;
}

std::string MethodSpec::canonical() const {
  const std::string body = params.canonical();
  return body.empty() ? name : name + "(" + body + ")";
}

std::string MethodSpec::display() const {
  const MethodInfo* info = MethodRegistry::instance().try_find(name);
  return info && info->display ? info->display(params) : canonical();
}

std::unique_ptr<SelectionMethod> MethodSpec::instantiate() const {
  const auto& info = MethodRegistry::instance().find(name, "method");
  return info.make(params);
}

void MethodSpec::pin_inputs() {
  const auto& info = MethodRegistry::instance().find(name, "method");
  if (info.pin_inputs) info.pin_inputs(params);
}

MethodTraits MethodSpec::traits() const {
  const std::string key = canonical();
  if (!traits_cache || traits_cache->first != key) {
    const auto method = instantiate();
    traits_cache.emplace(key, MethodTraits{.needs_embeddings = method->needs_embeddings(),
                                           .needs_images = method->needs_images(),
                                           .produces_bins = method->produces_bins()});
  }
  return traits_cache->second;
}

bool MethodSpec::drops_patches() const {
  const auto& info = MethodRegistry::instance().find(name, "method");
  return info.drops_patches && info.drops_patches(params);
}

PeakBytes MethodSpec::peak_bytes(const SelectionSizes& sizes) const {
  const auto& info = MethodRegistry::instance().find(name, "method");
  return info.peak_bytes ? info.peak_bytes(params, sizes) : PeakBytes{.bytes = -1, .model = ""};
}

std::optional<SharedArtefact> MethodSpec::shared_artefact() const {
  const auto& info = MethodRegistry::instance().find(name, "method");
  return info.shared_artefact ? info.shared_artefact(params) : std::nullopt;
}

MethodSpec parse_method_spec(const std::string& text, const std::string& where) {
  const SpecString s = parse_spec_string(text, where);
  const MethodInfo& info = MethodRegistry::instance().find(s.name, where);
  MethodSpec spec{s.name, Params("method '" + s.name + "'", info.params)};
  for (const auto& [k, v] : s.args) spec.params.set_from_text(k, v, where);
  return spec;
}

}  // namespace dq
