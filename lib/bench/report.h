// The results of a benchmark run and their two forms: a table for people and one JSON object for
// machines.
#ifndef WHYCACHE_LIB_BENCH_REPORT_H_
#define WHYCACHE_LIB_BENCH_REPORT_H_

#include <array>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "lib/bench/environment.h"
#include "lib/bench/filesystem.h"

namespace whycache::bench {

struct Figure {
  std::string key;  // Its JSON field name, e.g. "tree_ns".
  // Its name in the table, e.g. "tree"; empty to show the value alone. A figure with neither a
  // label nor a unit is left out of the table (it is in the JSON).
  std::string label;
  double value = 0;
  // Printed after the value in the table: "x" (a ratio) and "%" stick to the number.
  std::string unit;
};

// One row of the table, one member of the JSON object.
struct Section {
  std::string key;    // Its JSON member name, e.g. "point_get_100B".
  std::string title;  // The row's first column, e.g. "get, 200,000 keys x 100 B".
  std::vector<Figure> figures;
  // Facts in words its figures depend on, string members of its JSON object: e.g.
  // {"filesystem", "ext4"}.
  std::vector<std::pair<std::string, std::string>> facts;
  // Samples behind its figures, JSON arrays of its object: e.g. {"samples_ms", {28.1, ...}}.
  std::vector<std::pair<std::string, std::vector<double>>> series;
  // Non-empty when the section was not measured: why, and what to do to measure it.
  std::string not_measured;
};

struct Report {
  std::string mode;  // "full", "quick" or "smoke".
  int repetitions = 0;
  std::string date;     // UTC, ISO 8601, when the run started.
  std::string command;  // The command line that ran it, e.g. "whycache bench --json".
  BuildFacts build;
  MachineFacts machine;
  std::string directory;                // Where the run's files were...
  FilesystemFacts filesystem;           // ...and on what.
  std::array<double, 3> load_before{};  // 1, 5 and 15-minute load averages.
  std::array<double, 3> load_after{};
  double seconds = 0;  // Of the whole run.
  std::vector<Section> sections;

  // The section with `key`, or nullptr.
  const Section* Find(const std::string& key) const;
};

// The value of the figure with `key` in `section`, or 0 if it has none.
double FigureValue(const Section& section, const std::string& key);

// `n` with its digits in groups of three ("1,000,000"), as people read large counts.
std::string WithThousands(double n);

// The warning a run of an unoptimised build prints as its first line, on stderr and before its
// table: its figures describe the build, not the product. Empty for an optimised build.
std::string BuildWarning(const BuildFacts& build);

// BuildWarning() if any, header lines (the build, the machine, where the files were), one row
// per section and a line on how to read the figures.
void PrintTable(const Report& report, std::ostream& out);

// One JSON object: {"mode":..., "repetitions":..., "date":..., "command":...,
// "build":{"mode":...,"optimized":...,"compiler":...},
// "machine":{"cpu_model":...,"cores":...,"memory_bytes":...,"kernel":...}, "directory":...,
// "filesystem":..., "load_average":{"before":[...],"after":[...]}, "seconds":..., and per
// section "KEY":{"title":..., "measured":true, FACT: "...", ..., FIGURE KEY: value, ...,
// SERIES KEY: [value, ...], ...} or
// "KEY":{"title":..., "measured":false,"note":"..."}}, then a newline.
void PrintJson(const Report& report, std::ostream& out);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_REPORT_H_
