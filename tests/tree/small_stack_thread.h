// Threads with small stacks, for tests that run thousands at once.
#ifndef WHYCACHE_TESTS_TREE_SMALL_STACK_THREAD_H_
#define WHYCACHE_TESTS_TREE_SMALL_STACK_THREAD_H_

#include <pthread.h>

#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace whycache::tree {

class SmallStackThread {
 public:
  explicit SmallStackThread(std::function<void()> body)
      : body_(std::make_unique<std::function<void()>>(std::move(body))) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, size_t{512} << 10);
    const int rc = pthread_create(&thread_, &attr, &Run, body_.get());
    pthread_attr_destroy(&attr);
    if (rc != 0) throw std::runtime_error(std::string("pthread_create: ") + std::strerror(rc));
  }
  ~SmallStackThread() { pthread_join(thread_, nullptr); }
  SmallStackThread(const SmallStackThread&) = delete;
  SmallStackThread& operator=(const SmallStackThread&) = delete;

 private:
  static void* Run(void* body) {
    (*static_cast<std::function<void()>*>(body))();
    return nullptr;
  }

  std::unique_ptr<std::function<void()>> body_;
  pthread_t thread_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_TESTS_TREE_SMALL_STACK_THREAD_H_
