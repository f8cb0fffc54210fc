#pragma once
// A small SVG writer for the report's figures: points with optional error bars and lines, linear or
// log axes, a legend, "OOM" markers along the top edge, and grouped histogram bars. Output is plain
// text with fixed number formatting (byte for byte reproducible), no scripts, no external fonts.
#include <string>
#include <vector>

namespace dq {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> y_err;   // empty, or one half-width per point (drawn as error bars)
  bool lines = true;           // connect the points in x order
  std::vector<double> oom_x;   // x positions where this series ran out of memory (× at the top edge)
  bool hollow = false;         // open markers and a dashed line (the paper's numbers)
  int colour = -1;             // palette index; -1 = the series' position
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<PlotSeries> series;
  std::string note;            // a line under the plot (e.g. what OOM means)
};

struct Histogram {
  std::string title, x_label, y_label;
  std::vector<std::string> bins;              // bin labels, left to right
  std::vector<std::string> series;            // one colour per series
  std::vector<std::vector<double>> values;    // values[series][bin]
  std::string note;
};

std::string render_svg(const Plot& plot);
std::string render_svg(const Histogram& histogram);
// A figure that only says `message` (data not recorded yet), same size as the others.
std::string render_svg_message(const std::string& title, const std::string& message);

}  // namespace dq
