#include "cli/export_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "core/error.h"
#include "harness/coreset_export.h"
#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

void add_export_command(CLI::App& app) {
  struct Args {
    std::string experiment, db, cells, format = "npy";
    ExportOptions options;
    bool images = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "write DONE cells as folders a PyTorch user trains from: sorted ids, labels, keep fractions, patch "
      "masks, manifest (methods/coreset_files.h)");
  cmd->add_option("experiment", a->experiment, "experiment YAML file")->required();
  cmd->add_option("--out", a->options.out, "the folder to create (must not exist)")->required();
  auto* one = cmd->add_option("--cell", a->options.cell_id, "one cell, by id prefix: --out is its folder");
  cmd->add_option("--cells", a->cells,
                  "cells matching FILTER ('method=dq,ratio=0.1'; keys dataset, method, ratio, seed, id; default all), "
                  "one subfolder each")
      ->excludes(one);
  cmd->add_option("--db", a->db, "read this database instead of the YAML's");
  cmd->add_flag("--images", a->images, "also the images as trained on (dropped patches filled as the cell did)");
  cmd->add_option(
         "--format", a->format,
         "images as npy (images.npy, uint8 N x H x W x C) or folder (images/<class>/<id>.png; implies --images)")
      ->capture_default_str();
  cmd->add_flag("--test-split", a->options.test_split, "also test_images.npy and test_labels.npy");
  cmd->add_flag("--skip-unfinished", a->options.skip_unfinished,
                "leave out cells that are not DONE instead of refusing");
  cmd->callback([a] {
    if (a->format != "npy" && a->format != "folder")
      throw Error(fmt::format("--format {}: use npy or folder", a->format));
    a->options.images = a->format == "folder" ? ImageExport::Folder : a->images ? ImageExport::Npy : ImageExport::None;
    if (!a->cells.empty()) a->options.filter = parse_cell_filter(a->cells, "--cells");
    const Experiment ex = load_experiment(a->experiment);
    Store store(a->db.empty() ? ex.database : a->db, OpenMode::ReadOnly);
    export_coresets(ex, store, a->options, std::cout);
  });
}

}  // namespace dq
