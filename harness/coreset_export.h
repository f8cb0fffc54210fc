#pragma once
// `dqbench export`: what DONE cells stored, as folders a PyTorch user trains from without dqbench
// (the layout is methods/coreset_files.h): the sorted dataset ids, their labels, keep fractions and the
// patch masks the cell applied, a manifest (cell, method, ratio, seed, realised ratios, the hashes of
// what the cell used), and on request the images as trained on, the test split and, for the DQ family,
// the bins. The `indices` method reads such a folder back as is (methods/indices.cpp).
//
// All or nothing: everything is written under a temporary folder beside `out` and renamed into place
// at the end; any refusal or failure leaves no `out`. Refused, before anything is written: a cell that
// is not DONE (named, with its status), an `out` that exists, images of a features-only dataset or of
// a cell whose dropped patches an MAE filled (the database does not hold the MAE), and a cell whose keep
// fractions are below 1 without recorded masks (recorded before the store kept them: re-run it).
#include <iosfwd>
#include <string>
#include <vector>

#include "harness/cell_filter.h"
#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

enum class ImageExport { None, Npy, Folder };  // no images, images.npy, images/<class>/<id>.png

struct ExportOptions {
  std::string out;               // the folder to create; it must not exist
  std::string cell_id;           // a cell id prefix: `out` is that cell's folder; else one subfolder per cell
  CellFilter filter;             // with cell_id empty: the cells to export (empty: every cell)
  ImageExport images = ImageExport::None;
  bool test_split = false;       // also test_images.npy / test_labels.npy (uint8 N x H x W x C, int64)
  bool skip_unfinished = false;  // leave out cells that are not DONE (listed) instead of refusing
};

struct ExportedCell {
  std::string cell_id, folder;
};

// Exports the matching cells of `ex` recorded in `store`. Throws dq::Error (nothing written) when no
// cell matches, a cell id prefix is ambiguous, or a cell cannot be exported (see above).
std::vector<ExportedCell> export_coresets(const Experiment& ex, Store& store, const ExportOptions& options,
                                          std::ostream& log);

}  // namespace dq
