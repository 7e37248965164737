#include "cli/exporter_command.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/exposer.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "cli/output.h"
#include "cli/state_collector.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

struct ListenAddress {
  std::string text;  // As given: civetweb parses the same syntax.
  std::string host;
  sockaddr_in address = {};
};

Error BadListen(const std::string& text, const std::string& why) {
  return Error(Error::Code::kInvalidArgument,
               "exporter: --listen '" + text + "' " + why +
                   "; give IPV4-ADDRESS:PORT, e.g. 127.0.0.1:9851 (see whycache exporter --help)");
}

// Civetweb reports a bad address and a failed bind alike, so the address is checked here first.
// IPv4 only: the civetweb Debian ships fails to listen on an [IPv6]:PORT.
ListenAddress ParseListen(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw BadListen(text, "has no port");
  const std::string port_text = text.substr(colon + 1);
  uint16_t port = 0;
  const char* end = port_text.data() + port_text.size();
  auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end) {
    throw BadListen(text, "has no port number from 0 to 65535 after its last ':'");
  }
  ListenAddress out{.text = text, .host = text.substr(0, colon)};
  out.address.sin_family = AF_INET;
  out.address.sin_port = htons(port);
  if (inet_pton(AF_INET, out.host.c_str(), &out.address.sin_addr) != 1) {
    throw BadListen(text, "has no numeric IPv4 address before the port");
  }
  return out;
}

// Why civetweb could not listen, learnt by binding the address as it does: it says only that it
// failed.
Error ListenFailure(const ListenAddress& listen, const std::string& civetweb_message) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = 0;
  if (fd >= 0) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&listen.address), sizeof listen.address) != 0) {
      err = errno;
    }
    close(fd);
  }
  if (err == EADDRINUSE) {
    return Error(Error::Code::kBusy, "exporter: cannot listen on " + listen.text +
                                         ": the port is in use by another process; choose "
                                         "another port with --listen");
  }
  const std::string reason = err != 0 ? std::strerror(err) : civetweb_message;
  return Error(Error::Code::kIOError,
               "exporter: cannot listen on " + listen.text + ": " + reason +
                   "; give an address of this machine and a free port with --listen");
}

std::vector<std::unique_ptr<StateSource>> OpenStates(const Invocation& inv,
                                                     const CommandArgs& args) {
  std::vector<std::string> paths = args.OptionValues("--state");
  if (paths.empty()) paths.push_back(inv.RequireStatePath());
  std::set<std::string> seen;
  std::vector<std::unique_ptr<StateSource>> states;
  for (const std::string& path : paths) {
    if (!seen.insert(path).second) {
      throw Error(Error::Code::kInvalidArgument,
                  "exporter: state file " + path + " is given twice; name each once");
    }
    states.push_back(std::make_unique<StateSource>(path));
  }
  return states;
}

}  // namespace

int RunExporter(const Invocation& inv) {
  CommandArgs args("exporter", inv.args, {}, {"--listen", "--state"});
  args.ExpectPositional(0, 0, "no arguments besides --listen ADDRESS:PORT and --state PATH");
  const std::optional<std::string> listen_text = args.Option("--listen");
  if (!listen_text) {
    throw Error(Error::Code::kInvalidArgument,
                "exporter: --listen ADDRESS:PORT is required, e.g. --listen 127.0.0.1:9851 (see "
                "whycache exporter --help)");
  }
  const ListenAddress listen = ParseListen(*listen_text);
  auto collector = std::make_shared<StateCollector>(OpenStates(inv, args));

  // Blocked before civetweb starts its threads, which inherit the mask: the signals then wait
  // for sigwait below instead of ending the process in the middle of a scrape. A shell starts
  // background commands with SIGINT ignored, which would discard it instead of queueing it.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen.text);
  } catch (const std::exception& e) {
    throw ListenFailure(listen, e.what());
  }
  exposer->RegisterCollectable(collector);
  const std::vector<int> ports = exposer->GetListeningPorts();
  std::cout << "serving http://" << listen.host << ":" << (ports.empty() ? 0 : ports.front())
            << "/metrics\n";
  FlushStdout();

  int signal = 0;
  sigwait(&stop_signals, &signal);
  // Stops accepting and waits for the scrapes in flight.
  exposer.reset();
  return kExitOk;
}

}  // namespace whycache::cli
