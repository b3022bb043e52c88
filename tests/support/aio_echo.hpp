// A TCP echo handler for the asyncio tests (tests/asyncio/streams_test.cpp, the fault tests):
// echoes line after line until the peer's EOF, then closes.
#pragma once

#include <concur/asyncio.hpp>

#include <string>

namespace concur_test {

inline concur::asyncio::Task<void> echo_lines(concur::asyncio::StreamReader reader,
                                              concur::asyncio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

}  // namespace concur_test
