#include "report/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/table_model.h"

namespace dq {

namespace {

constexpr double kWidth = 820, kHeight = 420;
constexpr double kLeft = 72, kRight = 290, kTop = 40, kBottom = 64;
constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
                                    "#393b79", "#637939", "#843c39", "#7b4173"};
constexpr size_t kColours = sizeof(kPalette) / sizeof(kPalette[0]);

std::string num(double v) { return fmt::format("{:.2f}", v); }

std::string header(const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{3}</text>\n",
      kWidth, kHeight, kLeft, html_escape(title));
}

// Axis range and ticks. Log axes tick at powers of ten; linear axes at 1/2/5 x 10^k.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  double to_unit(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

Axis make_axis(std::vector<double> values, bool log, bool include_zero) {
  Axis a;
  a.log = log;
  if (log) values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > 0); }), values.end());
  if (values.empty()) values = log ? std::vector<double>{1, 10} : std::vector<double>{0, 1};
  double lo = *std::min_element(values.begin(), values.end());
  double hi = *std::max_element(values.begin(), values.end());
  if (log) {
    a.lo = std::pow(10, std::floor(std::log10(lo)));
    a.hi = std::pow(10, std::ceil(std::log10(hi)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    const bool narrow = a.hi / a.lo <= 100.0001;  // two decades or fewer: also tick at 2 and 5
    for (double t = a.lo; t <= a.hi * 1.0001; t *= 10)
      for (double m : {1.0, 2.0, 5.0})
        if ((m == 1 || narrow) && t * m <= a.hi * 1.0001) a.ticks.push_back(t * m);
    return a;
  }
  if (include_zero) lo = std::min(lo, 0.0);
  if (hi - lo < 1e-12) {
    const double pad = std::fabs(hi) > 0 ? std::fabs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 6;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  if (a.hi - hi < 0.1 * step) a.hi += step;  // keep points and error bars off the frame
  if (lo - a.lo < 0.1 * step && !include_zero) a.lo -= step;
  for (double t = a.lo; t <= a.hi + step * 1e-6; t += step) a.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return a;
}

std::string tick_label(double v) {
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) {
    const int e = static_cast<int>(std::floor(std::log10(std::fabs(v)) + 1e-9));
    const double m = v / std::pow(10, e);
    if (std::fabs(m - 1) < 1e-9) return fmt::format("1e{}", e);
    return fmt::format("{:g}e{}", m, e);
  }
  return fmt::format("{:g}", v);
}

std::string frame(const Axis& x, const Axis& y, const std::string& x_label, const std::string& y_label,
                  bool x_ticks = true) {
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  std::string out = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", num(kLeft),
      num(kTop), num(pw), num(ph));
  for (double t : y.ticks) {
    const double py = kTop + ph * (1 - y.to_unit(t));
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>\n", num(kLeft), num(py),
                       num(kLeft + pw));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", num(kLeft - 6), num(py + 4),
                       tick_label(t));
  }
  if (x_ticks)
    for (double t : x.ticks) {
      const double px = kLeft + pw * x.to_unit(t);
      out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/>\n", num(px),
                         num(kTop), num(kTop + ph));
      out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(px),
                         num(kTop + ph + 16), tick_label(t));
    }
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(kLeft + pw / 2),
                     num(kTop + ph + 36), html_escape(x_label));
  out += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>\n",
                     num(kTop + ph / 2), html_escape(y_label));
  return out;
}

struct LegendEntry {
  std::string name;
  size_t colour;
  bool hollow;
};

std::string legend(const std::vector<LegendEntry>& entries) {
  std::string out;
  const double x = kWidth - kRight + 14;
  for (size_t i = 0; i < entries.size(); ++i) {
    const double y = kTop + 10 + 18.0 * static_cast<double>(i);
    const char* colour = kPalette[entries[i].colour % kColours];
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"11\" height=\"11\" fill=\"{}\" stroke=\"{}\" "
                       "stroke-width=\"1.5\"/>\n",
                       num(x), num(y - 10), entries[i].hollow ? "white" : colour, colour);
    std::string name = entries[i].name;
    // 260 px of legend at 11 px DejaVu Sans (about 6.3 px a character): 40 characters, the last an ellipsis.
    if (name.size() > 40) name = name.substr(0, 39) + "…";
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n", num(x + 16), num(y),
                       html_escape(name));
  }
  return out;
}

std::string note_line(const std::string& note) {
  if (note.empty()) return "";
  return fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555\">{}</text>\n", num(kLeft),
                     num(kHeight - 8), html_escape(note));
}

}  // namespace

std::string render_svg(const Plot& plot) {
  std::vector<double> xs, ys;
  bool any_oom = false;
  for (const auto& s : plot.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      xs.push_back(s.x[i]);
      const double e = i < s.y_err.size() ? s.y_err[i] : 0;
      ys.push_back(plot.log_y ? std::max(s.y[i] - e, s.y[i] * 0.5) : s.y[i] - e);  // log axes: keep > 0
      ys.push_back(s.y[i] + e);
    }
    xs.insert(xs.end(), s.oom_x.begin(), s.oom_x.end());
    any_oom |= !s.oom_x.empty();
  }
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  const Axis x = make_axis(xs, plot.log_x, false);
  Axis y = make_axis(ys, plot.log_y, false);
  if (any_oom && !ys.empty()) {
    // The OOM marks take one 14 px row per series at the top: grow the axis until the data sit below.
    const size_t rows = static_cast<size_t>(
        std::count_if(plot.series.begin(), plot.series.end(), [](const PlotSeries& s) { return !s.oom_x.empty(); }));
    const double band = (14.0 * static_cast<double>(rows) + 8) / ph;
    const double top = *std::max_element(ys.begin(), ys.end()), bottom = *std::min_element(ys.begin(), ys.end());
    double headroom = plot.log_y ? top : top + 1e-12;
    for (int i = 0; i < 8 && y.to_unit(top) > 1 - band; ++i) {
      headroom = plot.log_y ? headroom * 10 : headroom + 0.25 * (top - bottom + 1e-12);
      std::vector<double> grown = ys;
      grown.push_back(headroom);
      y = make_axis(grown, plot.log_y, false);
    }
  }
  auto px = [&](double v) { return kLeft + pw * x.to_unit(v); };
  auto py = [&](double v) { return kTop + ph * (1 - std::clamp(y.to_unit(v), -0.02, 1.02)); };
  std::string out = header(plot.title) + frame(x, y, plot.x_label, plot.y_label);
  std::vector<LegendEntry> names;
  size_t oom_row = 0;
  for (size_t si = 0; si < plot.series.size(); ++si) {
    const auto& s = plot.series[si];
    const size_t ci = s.colour >= 0 ? static_cast<size_t>(s.colour) : si;
    const char* colour = kPalette[ci % kColours];
    names.push_back({s.name, ci, s.hollow});
    std::vector<size_t> order;
    for (size_t i = 0; i < s.x.size(); ++i)
      if ((!plot.log_x || s.x[i] > 0) && (!plot.log_y || s.y[i] > 0)) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
    if (s.lines && order.size() > 1) {
      std::string pts;
      for (size_t i : order) pts += fmt::format("{}{},{}", pts.empty() ? "" : " ", num(px(s.x[i])), num(py(s.y[i])));
      out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{}/>\n", pts,
                         colour, s.hollow ? " stroke-dasharray=\"5 3\"" : "");
    }
    for (size_t i : order) {
      if (i < s.y_err.size() && s.y_err[i] > 0) {
        const double top = py(s.y[i] + s.y_err[i]), bottom = py(plot.log_y ? std::max(s.y[i] - s.y_err[i], 1e-300)
                                                                              : s.y[i] - s.y_err[i]);
        const double cx = px(s.x[i]);
        out += fmt::format(
            "<path d=\"M{0},{1}V{2}M{3},{1}H{4}M{3},{2}H{4}\" stroke=\"{5}\" stroke-width=\"1.2\" fill=\"none\"/>\n",
            num(cx), num(top), num(bottom), num(cx - 4), num(cx + 4), colour);
      }
      out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"/>\n",
                         num(px(s.x[i])), num(py(s.y[i])), s.hollow ? "white" : colour, colour);
    }
    if (!s.oom_x.empty()) ++oom_row;
    for (double ox : s.oom_x) {
      if (plot.log_x && ox <= 0) continue;
      const double cx = px(ox), cy = kTop + 14.0 * static_cast<double>(oom_row);
      out += fmt::format(
          "<path d=\"M{0},{1}L{2},{3}M{0},{3}L{2},{1}\" stroke=\"{4}\" stroke-width=\"2.5\"/>\n"
          "<text x=\"{5}\" y=\"{6}\" font-size=\"10\" fill=\"{4}\">OOM</text>\n",
          num(cx - 5), num(cy - 5), num(cx + 5), num(cy + 5), colour, num(cx + 8), num(cy + 4));
    }
  }
  out += legend(names);
  std::string note = plot.note;
  if (any_oom && note.empty()) note = "× OOM: the cell stopped at a declared allocation over its memory budget";
  out += note_line(note);
  return out + "</svg>\n";
}

std::string render_svg(const Histogram& h) {
  std::vector<double> ys = {0};
  for (const auto& v : h.values) ys.insert(ys.end(), v.begin(), v.end());
  const Axis y = make_axis(ys, false, true);
  Axis x;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  std::string out = header(h.title) + frame(x, y, h.x_label, h.y_label, false);
  const size_t bins = h.bins.size(), series = std::max<size_t>(1, h.series.size());
  const double slot = bins ? pw / static_cast<double>(bins) : pw;
  const double bar = slot * 0.8 / static_cast<double>(series);
  for (size_t b = 0; b < bins; ++b) {
    const double left = kLeft + slot * static_cast<double>(b) + slot * 0.1;
    for (size_t s = 0; s < h.values.size(); ++s) {
      const double v = b < h.values[s].size() ? h.values[s][b] : 0;
      const double top = kTop + ph * (1 - y.to_unit(v));
      out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
                         num(left + bar * static_cast<double>(s)), num(top), num(bar), num(kTop + ph - top),
                         kPalette[s % kColours]);
    }
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(left + slot * 0.4),
                       num(kTop + ph + 16), html_escape(h.bins[b]));
  }
  std::vector<LegendEntry> entries;
  for (size_t i = 0; i < h.series.size(); ++i) entries.push_back({h.series[i], i, false});
  out += legend(entries) + note_line(h.note);
  return out + "</svg>\n";
}

std::string render_svg_message(const std::string& title, const std::string& message) {
  std::string out = header(title);
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>\n",
      num(kLeft), num(kTop), num(kWidth - kLeft - 20), num(kHeight - kTop - kBottom));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n",
                     num(kLeft + (kWidth - kLeft - 20) / 2), num(kTop + (kHeight - kTop - kBottom) / 2),
                     html_escape(message));
  return out + "</svg>\n";
}

}  // namespace dq
