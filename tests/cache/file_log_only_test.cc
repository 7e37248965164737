// A program built on //lib/cache:cache_file_log: the Cache on the file log, without Connector/C++
// in the binary. It writes, applies and reads like any other, and a MySQL URI is a clear error
// instead of a link failure or a crash.
#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

TEST(FileLogOnlyTest, WritesAndReadsThroughTheFileLog) {
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "file:" + dir.File("log");
  options.log_options.create_if_missing = true;
  auto cache = Cache::Open(options);

  Model written;
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "key:" + std::to_string(i % 7);
    const std::string value = "value " + std::to_string(i);
    last = cache->Set(key, value);
    written[key] = value;
  }
  ASSERT_TRUE(cache->WaitFor(last, std::chrono::seconds(30)));
  EXPECT_EQ(FirstDifference(written, ScanAll(*cache)), "");
  for (const auto& [key, value] : written) EXPECT_EQ(cache->Get(key), value) << key;
}

TEST(FileLogOnlyTest, AMysqlUriSaysTheProgramHasTheFileLogOnly) {
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "mysql://app:secret@127.0.0.1:3306/cache";
  try {
    Cache::Open(options);
    FAIL() << "opened a MySQL log without the MySQL log linked";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find("'mysql'"), std::string::npos) << message;
    EXPECT_NE(message.find("file log only"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace whycache::testing
