#include "tests/support/test_mariadb.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace whycache::testing {
namespace {

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v == nullptr ? "" : v;
}

// The script is a data dependency: found in the runfiles tree, or relative to the workspace
// when a test binary is run by hand.
std::string ScriptPath() {
  const std::string relative = "bazel/mariadb-test-server.sh";
  const std::string srcdir = Env("TEST_SRCDIR");
  const std::string workspace = Env("TEST_WORKSPACE");
  if (!srcdir.empty() && !workspace.empty()) {
    std::string path = srcdir + "/" + workspace + "/" + relative;
    if (std::filesystem::exists(path)) return path;
  }
  return relative;
}

// Runs `command`, returns its stdout; throws with `what` if it fails.
std::string RunCapturingStdout(const std::string& command, const std::string& what) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error(what + ": popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (status != 0) {
    throw std::runtime_error(what + " failed (status " + std::to_string(status) +
                             "); see the script's messages above");
  }
  return out;
}

std::map<std::string, std::string> ParseKeyValueLines(const std::string& text) {
  std::map<std::string, std::string> result;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) result[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return result;
}

}  // namespace

std::string MariaDbSettings::Uri(const std::string& table) const {
  std::string uri = "mysql://" + user + "@" + host + ":" + std::to_string(port) + "/" + database;
  if (!table.empty()) uri += "?table=" + table;
  return uri;
}

std::string MariaDbSettings::ConnectorUrl() const {
  return "tcp://" + host + ":" + std::to_string(port);
}

TestMariaDb& TestMariaDb::Shared() {
  static TestMariaDb* server = new TestMariaDb("", {});
  // Stopped from atexit rather than a static destructor so that the order against other
  // statics does not matter; forked children leave through _exit and never get here.
  static const bool registered = [] {
    atexit([] { delete server; });
    return true;
  }();
  (void)registered;
  return *server;
}

std::unique_ptr<TestMariaDb> TestMariaDb::StartPrivate(const std::string& extra_server_options,
                                                       const ScriptSettings& script_settings) {
  // Both end up inside single quotes of a shell command line.
  if (extra_server_options.find('\'') != std::string::npos) {
    throw std::invalid_argument("server options with a quote: " + extra_server_options);
  }
  for (const auto& [name, value] : script_settings) {
    if (name.rfind("MDB_", 0) != 0 ||
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != std::string::npos ||
        value.find('\'') != std::string::npos) {
      throw std::invalid_argument(
          "script setting not of the form MDB_NAME=value without quotes: " + name + "=" + value);
    }
  }
  return std::unique_ptr<TestMariaDb>(new TestMariaDb(extra_server_options, script_settings));
}

TestMariaDb::TestMariaDb(std::string extra_server_options, ScriptSettings script_settings)
    : extra_server_options_(std::move(extra_server_options)),
      script_settings_(std::move(script_settings)) {
  // A private server is always a throwaway one: an external server has its own options.
  if (extra_server_options_.empty() && script_settings_.empty() && !Env("MDB_HOST").empty()) {
    settings_.host = Env("MDB_HOST");
    settings_.port = std::stoi(Env("MDB_PORT").empty() ? "3306" : Env("MDB_PORT"));
    settings_.socket = Env("MDB_SOCKET");
    settings_.user = Env("MDB_USER");
    settings_.password = Env("MDB_PASS");
    settings_.database = Env("MDB_DB");
  } else {
    // The socket lives in this directory, and AF_UNIX paths are short: stay in /tmp.
    dir_ = std::make_unique<io::TempDir>("/tmp", "whycache-mdb-");
    owner_pid_ = getpid();
    RunScript("start", /*keep_data=*/false);
  }
  setenv("WHYCACHE_MYSQL_PASSWORD", settings_.password.c_str(), 1);
}

TestMariaDb::~TestMariaDb() {
  if (!owned()) return;
  if (getpid() != owner_pid_) {
    dir_->Keep();
    return;
  }
  try {
    RunScript("stop", false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stopping the test MariaDB: %s\n", e.what());
  }
}

void TestMariaDb::RunScript(const std::string& command, bool keep_data) {
  std::string env = "MDB_OWNER_PID=" + std::to_string(getpid()) + " ";
  if (keep_data) env += "MDB_KEEP_DATA=1 ";
  if (!extra_server_options_.empty()) env += "MDB_EXTRA_OPTIONS='" + extra_server_options_ + "' ";
  for (const auto& [name, value] : script_settings_) env += name + "='" + value + "' ";
  if (settings_.port != 0) {
    env += "MDB_PORT=" + std::to_string(settings_.port) + " ";
  } else if (Env("MDB_PORT").empty()) {
    // A random first port: tests running at once rarely want the same one, so a server that
    // restarts finds its port still free.
    env += "MDB_PORT=" + std::to_string(20000 + std::random_device()() % 30000) + " ";
  }
  std::string out =
      RunCapturingStdout(env + "bash " + ScriptPath() + " " + command + " " + dir_->path(),
                         "mariadb-test-server.sh " + command + " " + dir_->path());
  if (command != "start") return;
  auto kv = ParseKeyValueLines(out);
  if (kv["MDB_PORT"].empty()) throw std::runtime_error("mariadb-test-server.sh printed no port");
  settings_.host = kv["MDB_HOST"];
  settings_.port = std::stoi(kv["MDB_PORT"]);
  settings_.socket = kv["MDB_SOCKET"];
  settings_.user = kv["MDB_USER"];
  settings_.password = kv["MDB_PASS"];
  settings_.database = kv["MDB_DB"];
  settings_.pid = std::stoi(kv["MDB_PID"]);
}

void TestMariaDb::Stop() {
  if (!owned()) throw std::logic_error("TestMariaDb::Stop on a server this test did not start");
  RunScript("stop", false);
}

void TestMariaDb::Kill() {
  if (!owned()) throw std::logic_error("TestMariaDb::Kill on a server this test did not start");
  RunScript("kill", false);
}

void TestMariaDb::Start() {
  if (!owned()) throw std::logic_error("TestMariaDb::Start on a server this test did not start");
  RunScript("start", /*keep_data=*/true);
}

}  // namespace whycache::testing
