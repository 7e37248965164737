// The Prometheus page of whycache/prometheus.h: names, types, units, label escaping, the
// info-style error metric, and several states under one HELP/TYPE per metric. Checked against
// text written out here; promtool and a real Prometheus check the same page in tests/cli.
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "whycache/prometheus.h"

namespace whycache {
namespace {

bool HasLine(const std::string& page, const std::string& line) {
  std::istringstream in(page);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

int CountPrefix(const std::string& page, const std::string& prefix) {
  std::istringstream in(page);
  int n = 0;
  for (std::string l; std::getline(in, l);) n += l.rfind(prefix, 0) == 0;
  return n;
}

CacheStats SomeStats() {
  CacheStats s;
  s.keys = 7;
  s.applied_id = 123456789;
  s.log_head_id = 123456800;
  s.ids_behind = 11;
  s.lag_us = 1'500'000;
  s.bytes_used = 4096;
  s.file_bytes = 16 << 20;
  s.oldest_pin_age_us = 250;
  s.reader_slots_in_use = 3;
  s.reader_slots = 4096;
  s.read_barrier = "membarrier";
  s.polls = 40;
  s.poll_errors = 2;
  s.batches_applied = 9;
  s.mutations_applied = 30;
  s.apply_us = 114;
  s.resyncs = 1;
  return s;
}

TEST(PrometheusTextTest, FiguresWithUnitsTypesAndTheStateLabel) {
  const std::string page = PrometheusText(SomeStats(), "/dev/shm/flags.state");
  const std::string l = "{state=\"/dev/shm/flags.state\"} ";
  EXPECT_TRUE(HasLine(page, "# TYPE whycache_applied_id gauge"));
  EXPECT_TRUE(HasLine(page, "whycache_applied_id" + l + "123456789"));
  EXPECT_TRUE(HasLine(page, "whycache_log_head_id" + l + "123456800"));
  EXPECT_TRUE(HasLine(page, "whycache_ids_behind" + l + "11"));
  EXPECT_TRUE(HasLine(page, "whycache_lag_seconds" + l + "1.5"));
  EXPECT_TRUE(HasLine(page, "whycache_keys" + l + "7"));
  EXPECT_TRUE(HasLine(page, "whycache_used_bytes" + l + "4096"));
  EXPECT_TRUE(HasLine(page, "whycache_file_bytes" + l + "16777216"));
  EXPECT_TRUE(HasLine(page, "whycache_oldest_pin_age_seconds" + l + "0.00025"));
  EXPECT_TRUE(HasLine(page, "whycache_reader_slots_in_use" + l + "3"));
  EXPECT_TRUE(HasLine(page, "whycache_reader_slots_max" + l + "4096"));
  EXPECT_TRUE(HasLine(page,
                      "whycache_read_barrier_info{state=\"/dev/shm/flags.state\","
                      "barrier=\"membarrier\"} 1"));
  EXPECT_TRUE(HasLine(page, "# TYPE whycache_polls_total counter"));
  EXPECT_TRUE(HasLine(page, "whycache_polls_total" + l + "40"));
  EXPECT_TRUE(HasLine(page, "whycache_poll_errors_total" + l + "2"));
  EXPECT_TRUE(HasLine(page, "whycache_batches_applied_total" + l + "9"));
  EXPECT_TRUE(HasLine(page, "whycache_mutations_applied_total" + l + "30"));
  EXPECT_TRUE(HasLine(page, "whycache_apply_seconds_total" + l + "0.000114"));
  EXPECT_TRUE(HasLine(page, "whycache_resyncs_total" + l + "1"));
  // No error: the info metric is described but has no sample.
  EXPECT_TRUE(HasLine(page, "# TYPE whycache_last_error_info gauge"));
  EXPECT_EQ(CountPrefix(page, "whycache_last_error_info{"), 0);

  // Every sample line is NAME{state="...",...} VALUE; counters, and only they, end in _total.
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (line.rfind("# TYPE ", 0) == 0) {
      words >> hash >> keyword >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_EQ(name.ends_with("_total"), type == "counter") << line;
    } else if (line.rfind("# HELP whycache_", 0) != 0) {
      const size_t at = line.find("{state=\"/dev/shm/flags.state\"");
      ASSERT_NE(at, std::string::npos) << line;
      EXPECT_EQ(line.rfind("whycache_", 0), 0u) << line;
      const size_t labels_end = line.find("} ", at);
      ASSERT_NE(labels_end, std::string::npos) << line;
      const std::string value = line.substr(labels_end + 2);
      size_t parsed = 0;
      std::stod(value, &parsed);
      EXPECT_EQ(parsed, value.size()) << line;
    }
  }
}

TEST(PrometheusTextTest, LargeIdsPrintInFull) {
  CacheStats s;
  s.applied_id = uint64_t{1} << 60;
  EXPECT_TRUE(
      HasLine(PrometheusText(s, "s"), "whycache_applied_id{state=\"s\"} 1152921504606846976"));
}

TEST(PrometheusTextTest, LastErrorIsAnInfoGaugeWithItsMessageEscaped) {
  CacheStats s;
  s.last_error = "log \"x\" at C:\\logs\nfailed \xff";
  s.resync_snapshot_unused = "snapshot /b.snap is damaged";
  const std::string page = PrometheusText(s, "/tmp/a\"b.state");
  // Bytes outside printable ASCII and backslashes become \xNN, then quotes and backslashes are
  // escaped for the format.
  EXPECT_TRUE(HasLine(page,
                      R"(whycache_last_error_info{state="/tmp/a\"b.state",message="log \"x\" at )"
                      R"(C:\\x5clogs\\x0afailed \\xff"} 1)"))
      << page;
  EXPECT_TRUE(HasLine(page, R"(whycache_resync_snapshot_unused_info{state="/tmp/a\"b.state",)"
                            R"(reason="snapshot /b.snap is damaged"} 1)"));
}

TEST(PrometheusTextTest, SeveralStatesShareOneHelpAndTypePerMetric) {
  CacheStats a = SomeStats();
  CacheStats b;
  b.applied_id = 5;
  b.last_error = "down";
  const std::vector<std::pair<std::string, CacheStats>> states = {{"a", a}, {"b", b}};
  const std::string page = PrometheusText(states);
  EXPECT_EQ(CountPrefix(page, "# TYPE whycache_applied_id "), 1);
  EXPECT_EQ(CountPrefix(page, "# HELP whycache_applied_id "), 1);
  EXPECT_NE(page.find("whycache_applied_id{state=\"a\"} 123456789\n"
                      "whycache_applied_id{state=\"b\"} 5\n"),
            std::string::npos)
      << page;
  EXPECT_EQ(CountPrefix(page, "whycache_last_error_info{"), 1);
  EXPECT_TRUE(HasLine(page, "whycache_last_error_info{state=\"b\",message=\"down\"} 1"));
  // The page of one state is that of a one-element list.
  EXPECT_EQ(PrometheusText(a, "a"), PrometheusText(std::span(states).first(1)));
}

}  // namespace
}  // namespace whycache
