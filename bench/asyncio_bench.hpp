// bench/asyncio_bench.hpp — what asyncio_bench.cpp and its helper translation units share:
//   asyncio_asio.cpp         the standalone Asio 1.22 peers (libasio-dev), built when
//                            CONCUR_BENCH_HAVE_ASIO_STANDALONE is defined
//   asyncio_echo_concur.cpp  concur's echo server, built when concur/asyncio/streams.hpp exists
// The echo servers run in a forked child each: fd 0 is the stop pipe (the server returns when it
// reaches end of file), fd 1 the report pipe, on which the server writes one line,
// "port <port> <description>" once it listens on 127.0.0.1 (or "error <what>").
#pragma once

#include <cstdint>

namespace asyncio_bench {

constexpr std::int64_t kChurnBatch = 1'000'000;  // CHURN_BATCH in python/asyncio_bench.py

#ifdef CONCUR_BENCH_HAVE_ASIO_STANDALONE
// task churn: `batches` times, kChurnBatch asio::co_spawn(ctx, value(i), handler) with the
// handler storing each result in a vector, then ctx.run(); the sum is checked. Seconds.
double asio_churn(std::int64_t batches);
// The Asio echo server (C++20 awaitables, one thread, one io_context). Returns the exit status.
int asio_echo_server();
#endif

// true when this build has concur's streams (and so concur_echo_server()).
bool concur_echo_available();
// concur's echo server (aio::start_server, readline, write + drain). Returns the exit status.
int concur_echo_server();

}  // namespace asyncio_bench
