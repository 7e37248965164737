// The MySQL password (from $WHYCACHE_MYSQL_PASSWORD or a defaults-file) never shows in an error
// message, a Describe() string, Stats().last_error or the output of the command line, neither
// when the login fails at open nor when a reconnect fails later; a password written into the URI
// is refused with an error that says where it belongs, without repeating it.
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

using testing::CreateFreshLog;
using testing::KillOtherConnections;
using testing::LogUri;
using testing::RawConnection;
using testing::Server;

constexpr const char* kPasswordVariable = "WHYCACHE_MYSQL_PASSWORD";
// A wrong password that no message could contain by accident.
constexpr const char* kWrongPassword = "wr0ng-Secret-5f3a9c";

std::string ErrorMessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    password_ = Server().settings().password;
    ASSERT_FALSE(password_.empty());
    CreateFreshLog({}, &prefix_);
  }
  void TearDown() override { setenv(kPasswordVariable, password_.c_str(), 1); }

  // Fails the test if `text` holds the real or the wrong password.
  void ExpectNoSecret(const std::string& text, const std::string& what) const {
    EXPECT_EQ(text.find(password_), std::string::npos) << what << ": " << text;
    EXPECT_EQ(text.find(kWrongPassword), std::string::npos) << what << ": " << text;
  }

  CacheOptions Options(const std::string& uri) const {
    CacheOptions options;
    options.state_path = dir_.File("data.state");
    options.log_uri = uri;
    options.log_options.reconnect_budget = std::chrono::milliseconds(300);
    return options;
  }

  whycache::testing::TempDir dir_;
  std::string password_;
  std::string prefix_;
};

TEST_F(CredentialsTest, PasswordInTheUriIsRefusedWithoutRepeatingIt) {
  const auto& s = Server().settings();
  const std::string in_uri = "mysql://" + s.user + ":" + kWrongPassword + "@" + s.host + ":" +
                             std::to_string(s.port) + "/" + s.database + "?table=" + prefix_;
  for (const std::string& message : {ErrorMessageOf([&] { OpenChangeLog(in_uri); }),
                                     ErrorMessageOf([&] { Cache::Open(Options(in_uri)); })}) {
    ExpectNoSecret(message, "password in the URI");
    EXPECT_NE(message.find(kPasswordVariable), std::string::npos) << message;
    EXPECT_NE(message.find("defaults-file"), std::string::npos) << message;
  }
  // Nor when the scheme is mistyped and the URI is not recognized as MySQL's at all.
  for (const char* scheme : {"MYSQL://", "mysqlx://", "mariadb://"}) {
    ExpectNoSecret(ErrorMessageOf([&] {
                     OpenChangeLog(std::string(scheme) + "u:" + kWrongPassword + "@h:1/db");
                   }),
                   scheme);
  }
}

TEST_F(CredentialsTest, FailedLoginAtOpenNamesTheAccountNotThePassword) {
  setenv(kPasswordVariable, kWrongPassword, 1);
  const std::string from_log = ErrorMessageOf([&] { OpenChangeLog(LogUri(prefix_)); });
  ExpectNoSecret(from_log, "OpenChangeLog");
  EXPECT_NE(from_log.find(Server().settings().user + "@"), std::string::npos) << from_log;
  ExpectNoSecret(ErrorMessageOf([&] { Cache::Open(Options(LogUri(prefix_))); }), "Cache::Open");

  // The same through an option file, which holds the password in the clear.
  unsetenv(kPasswordVariable);
  std::ofstream(dir_.File("my.cnf")) << "[client]\npassword=" << kWrongPassword << "\n";
  const std::string uri = LogUri(prefix_) + "&defaults-file=" + dir_.File("my.cnf");
  const std::string from_file = ErrorMessageOf([&] { OpenChangeLog(uri); });
  ExpectNoSecret(from_file, "defaults-file");
  EXPECT_NE(from_file.find(dir_.File("my.cnf")), std::string::npos) << from_file;
}

TEST_F(CredentialsTest, FailedReconnectKeepsThePasswordOutOfErrorsAndStats) {
  auto cache = Cache::Open(Options(LogUri(prefix_)));
  const uint64_t id = cache->Set("k", "v");
  ASSERT_TRUE(cache->WaitFor(id, std::chrono::seconds(10)));
  auto log = OpenChangeLog(LogUri(prefix_));
  ExpectNoSecret(log->Describe(), "Describe");

  // The next connection logs in with a password the server refuses.
  setenv(kPasswordVariable, kWrongPassword, 1);
  KillOtherConnections(*RawConnection());
  ExpectNoSecret(ErrorMessageOf([&] { cache->UpdateNow(); }), "UpdateNow");
  ExpectNoSecret(ErrorMessageOf([&] { cache->Set("k", "w"); }), "Set");
  ExpectNoSecret(ErrorMessageOf([&] { log->HeadId(); }), "HeadId");
  ExpectNoSecret(log->Describe(), "Describe after the failure");
  std::this_thread::sleep_for(std::chrono::milliseconds(120));  // A poll is due.
  cache->Update();
  const std::string last_error = cache->Stats().last_error;
  EXPECT_NE(last_error.find("refused the login"), std::string::npos) << last_error;
  ExpectNoSecret(last_error, "Stats().last_error");
}

// The output of `whycache` run with `args` (stderr included) and its exit status.
struct CliRun {
  std::string output;
  int status = -1;
};

CliRun RunCli(const std::string& args) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  const std::string binary = srcdir != nullptr && workspace != nullptr
                                 ? std::string(srcdir) + "/" + workspace + "/cli/whycache"
                                 : "cli/whycache";
  CliRun run;
  FILE* pipe = popen((binary + " " + args + " 2>&1 </dev/null").c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed";
    return run;
  }
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) run.output.append(buf, n);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST_F(CredentialsTest, CommandLineOutputNeverHoldsThePassword) {
  const std::string state = "--state " + dir_.File("cli.state");
  const std::string log = " --log '" + LogUri(prefix_) + "' ";
  // What works with the right password: nothing it prints may hold it.
  for (const char* command : {"init", "set k v", "update", "tail", "stats", "stats --json"}) {
    const CliRun run = RunCli(state + log + command);
    EXPECT_EQ(run.status, 0) << command << ": " << run.output;
    ExpectNoSecret(run.output, command);
  }
  // Reconnecting with the wrong password fails, still without printing it.
  setenv(kPasswordVariable, kWrongPassword, 1);
  for (const char* command : {"init", "set k w", "update", "tail", "stats --json", "compact"}) {
    const CliRun run = RunCli(state + log + command);
    ExpectNoSecret(run.output, command);
  }
  const CliRun failed = RunCli(state + log + "tail");
  EXPECT_EQ(failed.status, 4) << failed.output;
  EXPECT_NE(failed.output.find("refused the login"), std::string::npos) << failed.output;
  // The stats of the machine show the failed poll, named without the password.
  const CliRun stats = RunCli(state + " stats --json");
  EXPECT_NE(stats.output.find("last_error"), std::string::npos) << stats.output;
  ExpectNoSecret(stats.output, "stats of the failed machine");

  const auto& s = Server().settings();
  const CliRun in_uri = RunCli(state + " --log 'mysql://" + s.user + ":" + kWrongPassword + "@" +
                               s.host + ":" + std::to_string(s.port) + "/" + s.database + "' tail");
  EXPECT_EQ(in_uri.status, 2) << in_uri.output;
  EXPECT_NE(in_uri.output.find(kPasswordVariable), std::string::npos) << in_uri.output;
  ExpectNoSecret(in_uri.output, "password in --log");
}

}  // namespace
}  // namespace whycache::mysql_log
