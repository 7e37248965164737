#include "lib/bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lib/format/escape.h"

namespace whycache::bench {

std::string WithThousands(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", std::fabs(value));
  std::string digits = buf;
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (value < 0 ? "-" : "") + out;
}

const Section* Report::Find(const std::string& key) const {
  for (const Section& s : sections) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

double FigureValue(const Section& section, const std::string& key) {
  for (const Figure& f : section.figures) {
    if (f.key == key) return f.value;
  }
  return 0;
}

namespace {

constexpr size_t kLineWidth = 100;

// Whole numbers as they are and large values grouped; three significant digits for the rest.
std::string Readable(double value) {
  if (std::fabs(value) >= 100 || value == std::floor(value)) return WithThousands(value);
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(value) >= 10 ? "%.1f" : "%.3g", value);
  return buf;
}

std::string FigureText(const Figure& f) {
  const std::string label = f.label.empty() ? "" : f.label + " ";
  if (f.unit == "x") {
    char buf[64];
    std::snprintf(buf, sizeof buf, f.value >= 0.1 ? "%.2fx" : "%.3gx", f.value);
    return label + buf;
  }
  if (f.unit == "%") return label + (f.value >= 0 ? "+" : "") + Readable(f.value) + "%";
  return label + Readable(f.value) + (f.unit.empty() ? "" : " " + f.unit);
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  }
  return buf;
}

std::string JsonArray(const std::array<double, 3>& values) {
  return "[" + JsonNumber(values[0]) + "," + JsonNumber(values[1]) + "," + JsonNumber(values[2]) +
         "]";
}

std::string LoadText(const std::array<double, 3>& load) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return buf;
}

// A row: the title padded to `title_width`, then the cells comma-separated, wrapped at
// kLineWidth under the second column.
void PrintRow(const std::string& title, size_t title_width, const std::vector<std::string>& cells,
              std::ostream& out) {
  std::string line = title;
  line.resize(title_width, ' ');
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string cell = cells[i] + (i + 1 < cells.size() ? "," : "");
    if (line.size() > title_width && line.size() + 1 + cell.size() > kLineWidth) {
      out << line << "\n";
      line = std::string(title_width, ' ');
    } else if (line.size() > title_width) {
      line += ' ';
    }
    line += cell;
  }
  out << line << "\n";
}

}  // namespace

std::string BuildWarning(const BuildFacts& build) {
  if (build.optimized) return "";
  return "WARNING: this whycache is a " + build.mode +
         " build, not an optimised one: its figures and ratios describe that build, not "
         "whycache. Measure with `bazel build --config=opt //cli:whycache`.";
}

void PrintTable(const Report& report, std::ostream& out) {
  const std::string warning = BuildWarning(report.build);
  if (!warning.empty()) out << warning << "\n\n";
  out << "whycache bench, " << report.mode << " mode, " << report.date << ": medians of "
      << report.repetitions << " repetitions\n"
      << report.build.mode << " build (" << report.build.compiler << "); "
      << report.machine.cpu_model << ", " << report.machine.cores << " cores, "
      << report.machine.kernel << "\n"
      << "files in " << report.directory << " (" << report.filesystem.type << "); load average "
      << LoadText(report.load_before) << " at the start, " << LoadText(report.load_after)
      << " at the end; " << Readable(report.seconds) << " s in all\n\n";
  size_t title_width = 0;
  for (const Section& s : report.sections) title_width = std::max(title_width, s.title.size() + 2);
  PrintRow("what", title_width, {"measured"}, out);
  for (const Section& s : report.sections) {
    std::vector<std::string> cells;
    if (!s.not_measured.empty()) cells.push_back(s.not_measured);
    for (const Figure& f : s.figures) {
      if (!f.label.empty() || !f.unit.empty()) cells.push_back(FigureText(f));
    }
    PrintRow(s.title, title_width, cells, out);
  }
  out << "\nns and us: CPU time of the measuring thread per call; \"wall\": the same on the\n"
         "steady clock; throughputs are wall clock. Ratios compare peers measured in this run.\n";
}

void PrintJson(const Report& report, std::ostream& out) {
  const BuildFacts& b = report.build;
  const MachineFacts& m = report.machine;
  out << "{\"mode\":" << format::JsonString(report.mode)
      << ",\"repetitions\":" << report.repetitions
      << ",\"date\":" << format::JsonString(report.date)
      << ",\"command\":" << format::JsonString(report.command)
      << ",\"build\":{\"mode\":" << format::JsonString(b.mode)
      << ",\"optimized\":" << (b.optimized ? "true" : "false")
      << ",\"compiler\":" << format::JsonString(b.compiler) << "}"
      << ",\"machine\":{\"cpu_model\":" << format::JsonString(m.cpu_model)
      << ",\"cores\":" << m.cores << ",\"memory_bytes\":" << m.memory_bytes
      << ",\"kernel\":" << format::JsonString(m.kernel) << "}"
      << ",\"directory\":" << format::JsonString(report.directory)
      << ",\"filesystem\":" << format::JsonString(report.filesystem.type)
      << ",\"load_average\":{\"before\":" << JsonArray(report.load_before)
      << ",\"after\":" << JsonArray(report.load_after);
  out << "},\"seconds\":" << JsonNumber(report.seconds);
  for (const Section& s : report.sections) {
    out << "," << format::JsonString(s.key) << ":{\"title\":" << format::JsonString(s.title);
    if (!s.not_measured.empty()) {
      out << ",\"measured\":false,\"note\":" << format::JsonString(s.not_measured);
    } else {
      out << ",\"measured\":true";
      for (const auto& [key, fact] : s.facts) {
        out << "," << format::JsonString(key) << ":" << format::JsonString(fact);
      }
      for (const Figure& f : s.figures) {
        out << "," << format::JsonString(f.key) << ":" << JsonNumber(f.value);
      }
      for (const auto& [key, values] : s.series) {
        out << "," << format::JsonString(key) << ":[";
        for (size_t i = 0; i < values.size(); ++i)
          out << (i > 0 ? "," : "") << JsonNumber(values[i]);
        out << "]";
      }
    }
    out << "}";
  }
  out << "}\n";
}

}  // namespace whycache::bench
