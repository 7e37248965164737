#include "cli/failure_message.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

constexpr const char* kAdvice = "free space on the filesystem that holds it";

Error IoError(int err) {
  return Error(Error::Code::kIOError, std::string("write /data/log/1.seg: ") + std::strerror(err));
}

TEST(FailureMessageTest, NamesTheToolAndKeepsTheMessage) {
  EXPECT_EQ(FailureMessage(Error(Error::Code::kUnavailable, "cannot reach db1:3306")),
            "whycache: cannot reach db1:3306");
}

TEST(FailureMessageTest, AFileThatCannotGrowSaysWhatToDo) {
  for (int err : {ENOSPC, EDQUOT, EFBIG}) {
    const std::string message = FailureMessage(IoError(err));
    EXPECT_EQ(message.find("whycache: write /data/log/1.seg: "), 0u) << message;
    EXPECT_NE(message.find(kAdvice), std::string::npos) << message;
  }
}

TEST(FailureMessageTest, OtherFailuresGetNoDiskAdvice) {
  EXPECT_EQ(FailureMessage(IoError(EACCES)).find(kAdvice), std::string::npos);
  // The reason must end the message: a key or file merely named like it does not count.
  const Error corruption(Error::Code::kCorruption,
                         std::string("snapshot '") + std::strerror(ENOSPC) + "' is truncated");
  EXPECT_EQ(FailureMessage(corruption).find(kAdvice), std::string::npos);
  const Error not_io(Error::Code::kCorruption, std::string("x: ") + std::strerror(ENOSPC));
  EXPECT_EQ(FailureMessage(not_io).find(kAdvice), std::string::npos);
}

}  // namespace
}  // namespace whycache::cli
