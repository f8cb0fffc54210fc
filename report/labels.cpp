#include "report/labels.h"

#include "core/error.h"
#include "report/integrity.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

namespace dq {

namespace {
std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
bool contains(const std::string& hay, const char* needle) { return hay.find(needle) != std::string::npos; }
std::string param(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}
constexpr std::array kDatasetOrder = {"cifar10", "cifar100", "imagenet1k", "fakeddit", "fashion_mnist"};
constexpr std::array kRowOrder = {"Random", "RS", "DQ", "BG+RS", "DQAS-approx", "DQAS", "ADQ",
                                  "BGFDQ w/o SPD", "NI+NCS", "BGFDQ w/ SPD"};
}  // namespace

std::string paper_dataset(const CellResult& c) {
  const std::string& k = c.dataset_kind;
  if (k == "cifar10" || k == "cifar100" || k == "fakeddit" || k == "fashion_mnist") return k;
  if (k == "imagenet") return "imagenet1k";
  const std::string hint = lower(c.dataset + " " + param(c.dataset_params, "path"));
  if (contains(hint, "cifar100") || contains(hint, "cifar-100")) return "cifar100";
  if (contains(hint, "cifar10") || contains(hint, "cifar-10")) return "cifar10";
  if (contains(hint, "imagenet")) return "imagenet1k";
  if (contains(hint, "fakeddit")) return "fakeddit";
  if (contains(hint, "fashion")) return "fashion_mnist";
  return c.dataset;
}

std::string dataset_display(const std::string& key) {
  static const std::map<std::string, std::string> names = {{"cifar10", "CIFAR-10"},
                                                           {"cifar100", "CIFAR-100"},
                                                           {"imagenet1k", "ImageNet-1K"},
                                                           {"fakeddit", "Fakeddit"},
                                                           {"fashion_mnist", "Fashion-MNIST"}};
  auto it = names.find(key);
  return it == names.end() ? key : it->second;
}

int dataset_order(const std::string& key) {
  for (size_t i = 0; i < kDatasetOrder.size(); ++i)
    if (key == kDatasetOrder[i]) return static_cast<int>(i);
  return static_cast<int>(kDatasetOrder.size());
}

int64_t class_count(const CellResult& c) {
  const std::string classes = param(c.dataset_params, "classes");
  if (!classes.empty()) return std::atoll(classes.c_str());
  const std::string key = paper_dataset(c);
  if (key == "cifar10" || key == "fashion_mnist") return 10;
  if (key == "cifar100") return 100;
  if (key == "imagenet1k") return 1000;
  if (key == "fakeddit") {
    const std::string label = param(c.dataset_params, "label");
    return label == "2_way" ? 2 : label == "3_way" ? 3 : 6;
  }
  return 0;
}

std::optional<int64_t> samples_per_class(const CellResult& c) {
  const std::string text = param(c.dataset_params, "per_class");
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(fmt::format("{}: cell {}: dataset parameter per_class = '{}' is not a whole number", c.db, c.cell_id,
                            text));
  return value;
}

bool spd_on(const CellResult& c) {
  const std::string v = lower(c.method_param("spd"));
  return v == "on" || v == "true" || v == "1" || v == "yes";
}

double theta_of(const CellResult& c) { return std::atof(c.method_param("theta").c_str()); }

std::string main_row_label(const CellResult& c) {
  const std::string& m = c.method_name;
  if (m == "random") return "Random";
  if (m == "dq") return "DQ";
  if (m == "dqas_approx") return "DQAS-approx";
  if (m == "adq") return "ADQ";
  if (m == "bgfdq") return spd_on(c) ? "BGFDQ w/ SPD" : "BGFDQ w/o SPD";
  // A method configured with its own label (an external command) and a coreset from files (labelled, or
  // named after its file) are rows under the name they display ("theirs [budget: free]").
  if (!c.method_param("label").empty() || m == "indices") return c.method;
  return m;
}

std::string paper_row_of(const std::string& label) { return label == "DQAS-approx" ? "DQAS" : label; }

int row_order(const std::string& label) {
  for (size_t i = 0; i < kRowOrder.size(); ++i)
    if (label == kRowOrder[i]) return static_cast<int>(i);
  return static_cast<int>(kRowOrder.size());
}

std::optional<std::string> ablation_row_label(const CellResult& c) {
  if (c.method_name == "random") return "RS";
  if (theta_of(c) != 0 || spd_on(c)) return std::nullopt;
  if (c.method_name == "dq") return "BG+RS";
  if (c.method_name == "bgfdq") return "NI+NCS";
  return main_row_label(c);
}

bool reused_cached_work(const CellResult& c) {
  return c.metric("diag_bin_cache_hit_mean").value_or(0) > 0 || c.metric("diag_knn_cache_hit_mean").value_or(0) > 0;
}

std::string target_arch(const CellResult& c) { return param(c.train, "arch"); }

bool cross_architecture_target(const CellResult& c) {
  const std::string arch = target_arch(c);
  return arch == "resnet50" || arch == "resnet50_imagenet" || arch == "vit";
}

namespace {

std::string epochs_text(const std::string& epochs) { return epochs + (epochs == "1" ? " epoch" : " epochs"); }

// The loader's per-class cap on the training split ("" when the whole split is used).
std::string train_cap(const CellResult& c) {
  const std::string cap = param(c.dataset_params, "max_per_class");
  return cap.empty() || cap == "0" ? "" : cap;
}

}  // namespace

std::string recipe_text(const CellResult& c) {
  if (c.train.empty()) return "no training (selection only)";
  // `partial_epoch` and `budget` are recorded only when they differ from the earlier recipes'
  // (ParamSpec::omit_at_default): such a recipe names its subset protocol.
  const std::string partial = param(c.train, "partial_epoch"), budget = param(c.train, "budget");
  std::string epochs = param(c.train, "epochs");
  if (!partial.empty()) epochs = fmt::format("{}", std::stod(epochs) + std::stod(partial));
  std::string out = fmt::format("{}, {}", param(c.train, "arch"), epochs_text(epochs));
  if (budget == "steps") out += " (equal steps: the full-data recipe's optimiser steps on every coreset)";
  else if (!partial.empty() || !budget.empty()) out += " (equal epochs)";
  const std::string min_steps = param(c.train, "min_steps");
  if (!min_steps.empty() && min_steps != "0") out += fmt::format(" (at least {} steps)", min_steps);
  out += fmt::format(", batch {}, lr {}, {} schedule, augment {}", param(c.train, "batch_size"),
                     param(c.train, "lr"), param(c.train, "schedule"), param(c.train, "augment"));
  return out;
}

std::string extractor_text(const CellResult& c) {
  const std::string kind = param(c.extractor, "kind");
  if (kind.empty() || kind == "none") return "features carried by the dataset";
  if (kind == "proxy")
    return fmt::format("proxy {} trained {} on the {}", param(c.extractor, "arch"),
                       epochs_text(param(c.extractor, "epochs")),
                       train_cap(c).empty() ? "full training set" : "training subset");
  if (kind == "torchscript") return fmt::format("TorchScript extractor {}", param(c.extractor, "path"));
  return kind;
}

std::vector<std::string> deviation_notes(const std::vector<const CellResult*>& cells) {
  std::vector<std::string> notes;
  auto add = [&](const std::string& n) {
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  };
  std::set<std::string> recipes, extractors;
  bool trained = false, patch_drop = false;
  std::map<std::string, std::set<int64_t>> seeds;  // per method spec, over DONE cells
  for (const CellResult* c : cells) {
    if (!c->train.empty()) {
      trained = true;
      const bool paper_recipe = param(c->train, "arch") == "resnet18" && param(c->train, "epochs") == "200";
      if (!paper_recipe)
        recipes.insert(recipe_text(*c));
    }
    const std::string ek = param(c->extractor, "kind");
    if (ek != "torchscript" && !(ek == "none" && c->dataset_kind == "synthetic_embeddings"))
      extractors.insert(extractor_text(*c));
    if (c->dataset_kind == "image_folder" && contains(lower(param(c->dataset_params, "path")), "jpg"))
      add(fmt::format("{}: the JPEG copy of the dataset ({}), decoded from lossy JPEG files, not the original "
                      "binary batches.",
                      dataset_display(paper_dataset(*c)), param(c->dataset_params, "path")));
    if (c->dataset_kind == "synthetic_embeddings")
      add(fmt::format("{}: synthetic embeddings standing in for the real data ({} classes x {} per class, {}-d); "
                      "selection only, so no accuracy.",
                      c->dataset, param(c->dataset_params, "classes"), param(c->dataset_params, "per_class"),
                      param(c->dataset_params, "dim")));
    if (!train_cap(*c).empty())
      add(fmt::format("{}: the first {} training images of each class (the loader's max_per_class), not the whole "
                      "training split; the test split is {}.",
                      dataset_display(paper_dataset(*c)), train_cap(*c),
                      param(c->dataset_params, "max_test_per_class").empty() ||
                              param(c->dataset_params, "max_test_per_class") == "0"
                          ? "whole"
                          : "capped too (max_test_per_class " + param(c->dataset_params, "max_test_per_class") + ")"));
    if (c->method_name == "dqas_approx")
      add("DQAS-approx: DQAS released no code; our approximation (DQ bins, class budgets moved by an active-learning "
          "proxy) is compared with the paper's DQAS numbers.");
    if (c->method_name == "indices" && c->method_param("budget") == "free")
      add("Rows marked [budget: free] evaluate a coreset from files that was not held to the cell's storage budget; "
          "compare their storage with the other rows' before their accuracy.");
    if (theta_of(*c) > 0 || spd_on(*c)) patch_drop = true;
    if (c->done()) seeds[c->method].insert(c->seed);
  }
  for (const auto& r : recipes)
    add(fmt::format("CPU recipe: target {} (the paper trains ResNet-18 for 200 epochs, SGD lr 0.1, cosine, "
                    "crop+flip, on a GPU).",
                    r));
  for (const auto& e : extractors)
    add(fmt::format("Extractor: {}, not an ImageNet-pretrained ResNet-18.", e));
  if (patch_drop && trained)
    add("Patch dropping: dropped patches (GradCAM++ ranking on the proxy extractor) are filled with the "
        "per-channel dataset mean or by a small MAE trained in-project (the experiment's patches.reconstruct); "
        "the paper reconstructs them with a pretrained ViT-L MAE.");
  if (trained)
    add("Accuracy is the last epoch's top-1 on the full test split (the DQ code reports the best epoch; the "
        "database also holds top1_best).");
  size_t fewest = SIZE_MAX;
  for (const auto& [spec, s] : seeds) fewest = std::min(fewest, s.size());
  if (fewest != SIZE_MAX && fewest < 3)
    add(fmt::format("Some rows have {} seed{}: a standard deviation needs 2 seeds and a paired interval 2 shared "
                    "seeds; the project's protocol runs at least 3.",
                    fewest, fewest == 1 ? "" : "s"));
  for (const auto& n : integrity_notes(cells)) add(n);
  return notes;
}

std::vector<std::string> distinguish_variants(const std::vector<std::string>& labels,
                                              const std::vector<const CellResult*>& cells) {
  std::vector<std::string> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    std::set<std::string> differing;
    for (size_t j = 0; j < labels.size(); ++j) {
      if (j == i || labels[j] != labels[i]) continue;
      std::set<std::string> keys;
      for (const auto& [k, v] : cells[i]->method_params) keys.insert(k);
      for (const auto& [k, v] : cells[j]->method_params) keys.insert(k);
      for (const auto& k : keys)
        if (param(cells[i]->method_params, k) != param(cells[j]->method_params, k)) differing.insert(k);
    }
    out[i] = labels[i];
    std::string suffix;
    for (const auto& k : differing) suffix += (suffix.empty() ? "" : ", ") + k + "=" + param(cells[i]->method_params, k);
    if (!suffix.empty()) out[i] += " (" + suffix + ")";
  }
  return out;
}

}  // namespace dq
