// Errors raised by whycache. Every failure is a whycache::Error carrying a Code that says what
// kind of failure it is (the command line maps codes to exit statuses) and a message that names
// the file, key, update id or server involved and what to do about it.
#ifndef WHYCACHE_ERROR_H_
#define WHYCACHE_ERROR_H_

#include <stdexcept>
#include <string>

namespace whycache {

class Error : public std::runtime_error {
 public:
  enum class Code {
    kInvalidArgument,  // The caller passed something unusable (oversized key, bad URI, ...).
    kCorruption,       // Stored bytes failed validation: a state file, snapshot or log record.
    kIncompatible,     // A valid file of another dataset or format version than expected.
    kUnavailable,      // The change log (file directory or database server) cannot be reached.
    kIOError,          // An operating-system call on a local file failed.
    kBusy,             // Another process holds a resource and waiting was not requested.
    kTimedOut,         // A wait with a deadline ran out.
  };

  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}

  Code code() const noexcept { return code_; }

 private:
  Code code_;
};

}  // namespace whycache

#endif  // WHYCACHE_ERROR_H_
