#include "lib/bench/plots.h"

#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "whycache/error.h"

namespace whycache::bench {
namespace {

constexpr const char* kInstall = "install gnuplot (Debian: apt-get install gnuplot-nox)";

// The point-get sections and how the plot names their data sets.
constexpr std::pair<const char*, const char*> kGetSections[] = {{"point_get_100B", "100 B values"},
                                                                {"point_get_16B", "16 B values"}};

// The stores of the latency plot: figure key prefix and legend.
constexpr std::pair<const char*, const char*> kStores[] = {{"tree", "whycache"},
                                                           {"unordered_map", "std::unordered_map"},
                                                           {"lmdb", "LMDB begin/abort"},
                                                           {"lmdb_renew", "LMDB reset/renew"}};

constexpr std::pair<const char*, const char*> kPercentiles[] = {
    {"p50", "p50"}, {"p90", "p90"}, {"p99", "p99"}, {"p999", "p99.9"}};

const Section* Measured(const Report& report, const std::string& key) {
  const Section* s = report.Find(key);
  return s != nullptr && s->not_measured.empty() ? s : nullptr;
}

// A gnuplot single-quoted string.
std::string Quoted(const std::string& text) {
  if (text.find('\'') != std::string::npos) {
    throw Error(Error::Code::kInvalidArgument,
                "bench --plot: the directory name " + text + " has a single quote; choose another");
  }
  return "'" + text + "'";
}

void Begin(std::ostringstream& gp, const std::string& path, int width, int height) {
  gp << "reset\nset terminal pngcairo size " << width << "," << height
     << " font 'sans,10' noenhanced\nset output " << Quoted(path) << "\nset grid ytics\n";
}

bool ReadLatency(const Report& report, const std::string& path, std::ostringstream& gp) {
  std::vector<std::pair<const Section*, const char*>> panels;
  for (const auto& [key, name] : kGetSections) {
    if (const Section* s = Measured(report, key)) panels.emplace_back(s, name);
  }
  if (panels.empty()) return false;
  Begin(gp, path, 500 * static_cast<int>(panels.size()) + 100, 480);
  gp << "set multiplot layout 1," << panels.size()
     << " title 'single random gets: latency percentiles (log scale)'\n"
        "set style data histograms\nset style histogram clustered gap 1\n"
        "set style fill solid 0.8 border -1\nset logscale y\nset ylabel 'ns per get'\n"
        "set yrange [10:*]\nset key outside bottom center horizontal\n";
  for (const auto& [s, name] : panels) {
    gp << "$d << EOD\npercentile";
    for (const auto& [store, legend] : kStores) gp << " \"" << legend << "\"";
    gp << "\n";
    for (const auto& [p, label] : kPercentiles) {
      gp << label;
      for (const auto& [store, legend] : kStores) {
        gp << " " << FigureValue(*s, std::string(store) + "_" + p + "_ns");
      }
      gp << "\n";
    }
    gp << "EOD\nset title '" << WithThousands(FigureValue(*s, "keys")) << " keys, " << name
       << "'\nplot $d using 2:xtic(1) title columnheader(2)";
    for (size_t c = 3; c <= std::size(kStores) + 1; ++c) {
      gp << ", '' using " << c << " title columnheader(" << c << ")";
    }
    gp << "\n";
  }
  gp << "unset multiplot\n";
  return true;
}

bool ReplicationLag(const Report& report, const std::string& path, std::ostringstream& gp) {
  std::vector<const Section*> logs;
  for (const Section& s : report.sections) {
    if (s.key.starts_with("replication_lag_") && s.not_measured.empty()) logs.push_back(&s);
  }
  if (logs.empty()) return false;
  Begin(gp, path, 800, 480);
  gp << "set title 'replication lag: Set() on machine A to readable on machine B'\n"
        "set xlabel 'lag, ms'\nset ylabel 'fraction of writes at or below'\n"
        "set yrange [0:1]\nset xrange [0:*]\nset key bottom right\n";
  std::string plot = "plot ";
  for (size_t i = 0; i < logs.size(); ++i) {
    std::vector<double> samples;
    for (const auto& [key, values] : logs[i]->series) {
      if (key == "samples_ms") samples = values;
    }
    std::sort(samples.begin(), samples.end());
    gp << "$lag" << i << " << EOD\n";
    for (size_t k = 0; k < samples.size(); ++k) {
      gp << samples[k] << " " << static_cast<double>(k + 1) / static_cast<double>(samples.size())
         << "\n";
    }
    gp << "EOD\n";
    const std::string log = logs[i]->key.substr(std::string("replication_lag_").size());
    plot += (i > 0 ? ", " : "") + std::string("$lag") + std::to_string(i) +
            " using 1:2 with steps linewidth 2 title '" + log + " log, " +
            WithThousands(FigureValue(*logs[i], "poll_interval_ms")) + " ms poll, " +
            std::to_string(samples.size()) + " writes'";
  }
  gp << plot << "\n";
  return true;
}

bool Throughput(const Report& report, const std::string& path, std::ostringstream& gp) {
  std::vector<std::pair<std::string, double>> apply, snapshot;
  for (const Section& s : report.sections) {
    if (s.key.starts_with("apply_") && s.not_measured.empty()) {
      apply.emplace_back(s.key.substr(6) + " log", FigureValue(s, "mutations_per_s") / 1e6);
    }
  }
  if (const Section* s = Measured(report, "snapshot")) {
    snapshot = {{"create", FigureValue(*s, "create_MBps")},
                {"restore", FigureValue(*s, "restore_MBps")}};
  }
  if (apply.empty() && snapshot.empty()) return false;
  Begin(gp, path, 900, 420);
  gp << "set multiplot layout 1,2 title 'throughput, 100 B random values'\n"
        "set style fill solid 0.7 border -1\nset boxwidth 0.6\nunset key\n";
  const auto bars = [&gp](const std::vector<std::pair<std::string, double>>& rows,
                          const char* title, const char* unit) {
    double top = 0;
    gp << "$b << EOD\n";
    for (const auto& [name, value] : rows) {
      gp << "\"" << name << "\" " << value << "\n";
      top = std::max(top, value);
    }
    // Room above the tallest bar for its label.
    gp << "EOD\nset xrange [-0.6:" << static_cast<double>(rows.size()) - 0.4
       << "]\nset yrange [0:" << (top > 0 ? top * 1.15 : 1) << "]\nset title '" << title
       << "'\nset ylabel '" << unit
       << "'\nplot $b using 0:2:xtic(1) with boxes, '' using 0:2:(sprintf('%.3g', $2)) "
          "with labels offset 0,0.7\n";
  };
  bars(apply, "apply from the log onto a fresh state", "million mutations/s");
  bars(snapshot, "snapshot of the loaded machine", "MB/s of keys and values");
  gp << "unset multiplot\n";
  return true;
}

}  // namespace

void RequireGnuplot() {
  if (system("gnuplot --version >/dev/null 2>&1") != 0) {
    throw Error(Error::Code::kIOError,
                std::string("bench --plot: cannot run gnuplot: ") + kInstall);
  }
}

std::vector<std::string> WritePlots(const Report& report, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Error(Error::Code::kIOError,
                "bench --plot: cannot create the directory " + dir + ": " + ec.message());
  }
  std::ostringstream gp;
  std::vector<std::string> written;
  const auto plot = [&](const char* name, auto draw) {
    const std::string path = dir + "/" + name;
    if (draw(report, path, gp)) written.push_back(path);
  };
  plot("bench-read-latency.png", ReadLatency);
  plot("bench-replication-lag.png", ReplicationLag);
  plot("bench-throughput.png", Throughput);
  if (written.empty()) return written;
  FILE* pipe = popen("gnuplot", "w");
  if (pipe == nullptr) {
    throw Error(Error::Code::kIOError,
                std::string("bench --plot: cannot start gnuplot: ") + kInstall);
  }
  const std::string script = gp.str();
  const bool sent = fwrite(script.data(), 1, script.size(), pipe) == script.size();
  const int status = pclose(pipe);
  if (!sent || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(Error::Code::kIOError,
                "bench --plot: gnuplot failed drawing into " + dir +
                    " (its messages are above; if it is missing: " + kInstall + ")");
  }
  return written;
}

}  // namespace whycache::bench
