#pragma once
// How recorded cells map onto the paper's tables: dataset keys, the paper's row labels, the text of
// a training recipe, and the footnotes that name every way a recorded cell departs from the paper.
#include <optional>
#include <string>
#include <vector>

#include "report/results.h"

namespace dq {

// "cifar10", "cifar100", "imagenet1k", "fakeddit", "fashion_mnist"; otherwise the experiment's own
// dataset name. From the loader kind, or for image folders and synthetic data from the path/name.
std::string paper_dataset(const CellResult& cell);
// "CIFAR-10", ... ; the key itself when unknown.
std::string dataset_display(const std::string& key);
// Order of datasets in the paper's tables (unknown keys last, by name).
int dataset_order(const std::string& key);
// Classes of a paper dataset, from its parameters or the known datasets; 0 when unknown.
int64_t class_count(const CellResult& cell);
// The dataset's own samples per class (its `per_class` parameter, as synthetic_embeddings and the
// embedding zoo declare it); nullopt when its loader has no such parameter. Throws dq::Error (cell,
// database) for a stored value that is not a whole number. The one reader of that parameter.
std::optional<int64_t> samples_per_class(const CellResult& cell);

// The method's row in the main table: "Random", "DQ", "DQAS-approx", "ADQ", "BGFDQ w/o SPD",
// "BGFDQ w/ SPD", a labelled method's label (an external command's, a coreset's), or the method's own
// name (a user's method is one more row).
std::string main_row_label(const CellResult& cell);
// The paper's label for that row (DQAS-approx is compared with the paper's DQAS).
std::string paper_row_of(const std::string& main_label);
// Order of rows in the paper's tables (unknown rows last, by name).
int row_order(const std::string& label);
// The selection-ablation row (Table 5: no patch dropping): "RS" (random), "BG+RS" (dq with
// theta = 0), "NI+NCS" (bgfdq with theta = 0, no SPD), the method's name for other methods with
// theta = 0; nullopt when the cell drops patches.
std::optional<std::string> ablation_row_label(const CellResult& cell);
// True when the method runs semantic-offset patch dropping (a parameter `spd` that is on/true/1).
bool spd_on(const CellResult& cell);
// The fixed patch-drop ratio theta (0 when the method has none).
double theta_of(const CellResult& cell);

// True when the cell read DQ's bins or BGFDQ's KNN graph from the cache (diag_bin_cache_hit_mean or
// diag_knn_cache_hit_mean > 0): its selection time is a cache read, not the method's work.
bool reused_cached_work(const CellResult& cell);

// The target network ("resnet50"), "" when the cell trains nothing.
std::string target_arch(const CellResult& c);
// True when the target is one of the paper's cross-architecture networks (ResNet-50 with either stem,
// the ViT): those cells belong to the cross-architecture table, not to Table 1, whose target is
// ResNet-18 (or the small CNN of a CPU recipe).
bool cross_architecture_target(const CellResult& c);

// "small_cnn, 6 epochs, batch 128, lr 0.05, flip_crop" or "no training".
std::string recipe_text(const CellResult& cell);
std::string extractor_text(const CellResult& cell);

// Footnotes for a set of cells: every way they depart from the paper's setting (recipe, data copy,
// extractor, reconstruction, DQAS approximation, synthetic data, seeds, last-epoch accuracy), then
// what their records say about their integrity (report/integrity.h: unverified pairing, dirty trees,
// mixed upstream artefacts).
std::vector<std::string> deviation_notes(const std::vector<const CellResult*>& cells);

// Display labels for rows that share a label: each gets " (key=value, ...)" with the method
// parameters in which it differs from the others of its label. `labels[i]` belongs to `cells[i]`
// (one representative cell per method spec).
std::vector<std::string> distinguish_variants(const std::vector<std::string>& labels,
                                              const std::vector<const CellResult*>& cells);

}  // namespace dq
