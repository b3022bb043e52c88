// bench/asyncio_echo_concur.cpp — concur's echo server for asyncio_bench, written as Python's
// asyncio streams echo server is (bench/python/asyncio_bench.py, _echo): aio::start_server,
// StreamReader::readline, StreamWriter::write + drain. Built only when concur's streams
// (concur/asyncio/streams.hpp) are in the tree; before they are, the echo workload measures the
// peers alone and says so.
#include "asyncio_bench.hpp"

#if __has_include("concur/asyncio/streams.hpp")

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include "concur/asyncio.hpp"
#include "concur/asyncio/streams.hpp"

namespace aio = concur::asyncio;

namespace asyncio_bench {
namespace {

aio::Task<void> echo(aio::StreamReader reader, aio::StreamWriter writer) {
  try {
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;
      writer.write(line);
      co_await writer.drain();
    }
  } catch (const concur::OSError&) {
    // a reset connection is over
  }
  writer.close();
}

aio::Task<aio::Server> start() { co_return co_await aio::start_server(echo, "127.0.0.1", 0); }

}  // namespace

bool concur_echo_available() { return true; }

int concur_echo_server() {
  try {
    aio::EventLoop loop;
    aio::Server server = loop.run_until_complete(start());
    // Stop at the end of the stop pipe (fd 0).
    loop.add_reader(0, [&loop] {
      char buf[64];
      if (::read(0, buf, sizeof buf) <= 0) loop.stop();
    });
    std::printf("port %d concur streams\n", server.port());
    std::fflush(stdout);
    loop.run_forever();
    loop.remove_reader(0);
    server.close();
    return 0;
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    std::fflush(stdout);
    return 1;
  }
}

}  // namespace asyncio_bench

#else  // no concur streams in this tree yet

namespace asyncio_bench {
bool concur_echo_available() { return false; }
int concur_echo_server() { return 1; }
}  // namespace asyncio_bench

#endif
