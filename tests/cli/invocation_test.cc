#include "cli/invocation.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

std::map<std::string, std::string> fake_env;

const char* FakeGetenv(const char* name) {
  auto it = fake_env.find(name);
  return it == fake_env.end() ? nullptr : it->second.c_str();
}

class InvocationTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_env.clear(); }
};

TEST_F(InvocationTest, GlobalOptionsInBothSpellings) {
  Invocation inv = ParseInvocation({"--state", "/s", "--log=file:d", "get", "k"}, FakeGetenv);
  EXPECT_EQ(inv.RequireStatePath(), "/s");
  EXPECT_EQ(inv.RequireLogUri(), "file:d");
  EXPECT_EQ(inv.command, "get");
  EXPECT_EQ(inv.args, std::vector<std::string>{"k"});
}

TEST_F(InvocationTest, EnvironmentGivesDefaultsAndFlagsWin) {
  fake_env = {{"WHYCACHE_STATE", "/env-state"}, {"WHYCACHE_LOG", "file:env"}};
  Invocation inv = ParseInvocation({"--log", "file:flag", "stats"}, FakeGetenv);
  EXPECT_EQ(inv.RequireStatePath(), "/env-state");
  EXPECT_EQ(inv.RequireLogUri(), "file:flag");
}

TEST_F(InvocationTest, ArgumentsAfterTheCommandAreLeftAlone) {
  Invocation inv = ParseInvocation({"set", "--log", "-v"}, FakeGetenv);
  EXPECT_EQ(inv.command, "set");
  EXPECT_EQ(inv.args, (std::vector<std::string>{"--log", "-v"}));
  EXPECT_FALSE(inv.log_uri.has_value());
}

TEST_F(InvocationTest, MissingSettingsNameTheFlagAndVariable) {
  Invocation inv = ParseInvocation({"get", "k"}, FakeGetenv);
  try {
    inv.RequireLogUri();
    FAIL() << "expected a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("--log"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("WHYCACHE_LOG"), std::string::npos);
  }
  EXPECT_THROW(inv.RequireStatePath(), Error);
}

TEST_F(InvocationTest, BadGlobalOptionsAreUsageErrors) {
  EXPECT_THROW(ParseInvocation({"--state"}, FakeGetenv), Error);
  EXPECT_THROW(ParseInvocation({"--bogus", "get"}, FakeGetenv), Error);
}

TEST_F(InvocationTest, HelpAndVersion) {
  EXPECT_TRUE(ParseInvocation({"--help"}, FakeGetenv).help);
  EXPECT_TRUE(ParseInvocation({"-h"}, FakeGetenv).help);
  Invocation inv = ParseInvocation({"--version"}, FakeGetenv);
  EXPECT_TRUE(inv.version);
  EXPECT_TRUE(inv.command.empty());
}

}  // namespace
}  // namespace whycache::cli
