// A process that reads keys through a Cache counting key prefixes, for the command-line tests of
// `whycache stats`, whose own process counts nothing:
//
//   prefix_reader STATE LOG PREFIX... -- KEY...
//
// reads each KEY once, in one read transaction, and exits (closing the Cache publishes its
// counts). Exit status 0, or 1 with the error on stderr.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "whycache/cache.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s STATE LOG PREFIX... -- KEY...\n", argv[0]);
    return 1;
  }
  try {
    whycache::CacheOptions options;
    options.state_path = argv[1];
    options.log_uri = argv[2];
    int i = 3;
    for (; i < argc && std::string(argv[i]) != "--"; ++i) options.stat_prefixes.push_back(argv[i]);
    std::unique_ptr<whycache::Cache> cache = whycache::Cache::Open(options);
    whycache::ReadTransaction txn = cache->BeginRead();
    for (++i; i < argc; ++i) txn.Get(argv[i]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prefix_reader: %s\n", e.what());
    return 1;
  }
  return 0;
}
