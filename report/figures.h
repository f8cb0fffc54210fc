#pragma once
// The report's figures, from recorded cells: selection time against samples per class (log-log,
// OOM marked), top-1 against ratio with error bars, the SPD theta* histogram (metrics named
// spd_theta_<θ>_count, recorded by SPD), and coverage against redundancy per method.
#include <string>
#include <vector>

#include "report/results.h"

namespace dq {

struct Figure {
  std::string id;     // file stem: "fig_selection_time"
  std::string title;  // caption
  std::string svg;
};

std::vector<Figure> build_figures(const ResultSet& rs);

// "fakeddit_scale" -> "fakeddit_scale"; other characters become '_'.
std::string file_slug(const std::string& text);

}  // namespace dq
