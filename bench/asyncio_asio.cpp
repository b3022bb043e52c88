// bench/asyncio_asio.cpp — asyncio_bench's standalone Asio 1.22 peers (Debian libasio-dev,
// `#include <asio.hpp>`), written the way Asio's own C++20 examples are
// (asio/src/examples/cpp20/coroutines/echo_server.cpp): asio::awaitable coroutines,
// asio::co_spawn, asio::use_awaitable, one io_context run by one thread.
#include "asyncio_bench.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio.hpp>

#include "common/harness.hpp"

namespace asyncio_bench {
namespace {

asio::awaitable<int> value(int i) { co_return i; }

// One connection: read a line, write it back, until the client closes.
asio::awaitable<void> echo_session(asio::ip::tcp::socket socket) {
  std::string data;
  try {
    for (;;) {
      const std::size_t n = co_await asio::async_read_until(
          socket, asio::dynamic_buffer(data, 1 << 16), '\n', asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data.data(), n), asio::use_awaitable);
      data.erase(0, n);
    }
  } catch (const std::exception&) {
    // end of file or reset: the connection is over
  }
}

asio::awaitable<void> listener(asio::ip::tcp::acceptor& acceptor) {
  for (;;) {
    asio::ip::tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(asio::ip::tcp::no_delay(true));  // as asyncio and concur set it
    asio::co_spawn(acceptor.get_executor(), echo_session(std::move(socket)), asio::detached);
  }
}

}  // namespace

double asio_churn(std::int64_t batches) {
  std::vector<int> results(kChurnBatch);
  asio::io_context ctx(1);
  long long total = 0;
  const auto t0 = concur_bench::Clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    for (int i = 0; i < static_cast<int>(kChurnBatch); ++i)
      asio::co_spawn(ctx, value(i), [&results, i](std::exception_ptr e, int v) {
        if (e) std::rethrow_exception(e);
        results[static_cast<std::size_t>(i)] = v;
      });
    ctx.run();
    ctx.restart();
    for (int v : results) total += v;
  }
  const double t = concur_bench::seconds_since(t0);
  concur_bench::check(total == batches * (kChurnBatch * (kChurnBatch - 1) / 2),
                      "the sum of the results");
  return t;
}

int asio_echo_server() {
  try {
    asio::io_context ctx(1);
    asio::ip::tcp::acceptor acceptor(
        ctx, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    asio::co_spawn(ctx, listener(acceptor), asio::detached);
    // Stop at the end of the stop pipe (fd 0).
    asio::posix::stream_descriptor stop(ctx, ::dup(0));
    char byte;
    stop.async_read_some(asio::buffer(&byte, 1), [&ctx](std::error_code, std::size_t) { ctx.stop(); });
    std::printf("port %u Asio %d.%d.%d\n", static_cast<unsigned>(acceptor.local_endpoint().port()),
                ASIO_VERSION / 100000, ASIO_VERSION / 100 % 1000, ASIO_VERSION % 100);
    std::fflush(stdout);
    ctx.run();
    return 0;
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    std::fflush(stdout);
    return 1;
  }
}

}  // namespace asyncio_bench
