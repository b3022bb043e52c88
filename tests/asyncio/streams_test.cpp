// aio streams: open_connection, start_server, StreamReader, StreamWriter, Server (the parts of
// Python 3.12's Lib/test/test_asyncio/test_streams.py and test_server.py that apply), and the
// robustness the streams promise: garbage, a peer that stops reading or vanishes, resets,
// refusals, cancellation in the middle of a read or a drain, flow control both ways.
//
// The misbehaving peers are plain blocking sockets (with 10 s timeouts, so nothing hangs) driven
// from the test's coroutine or from aio::to_thread: they do exactly what a bad peer does, at a
// known moment.
#include <concur/asyncio.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aio_echo.hpp"
#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

constexpr auto kSxWait = 10s;  // every blocking co_await of these tests is bounded by this

// ---- plain blocking sockets: the peers that misbehave ------------------------------------------

void sx_timeouts(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A listening socket on the loopback (IPv4), its port in *port; accept() times out after 10 s.
int sx_raw_listener(int* port, bool listen_too = true) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  if (listen_too) {
    EXPECT_EQ(::listen(fd, 16), 0);
  }
  sx_timeouts(fd);
  return fd;
}

// The connection open_connection() has made is in the backlog already: accept returns at once.
int sx_raw_accept(int listen_fd) {
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(fd, 0);
  sx_timeouts(fd);
  return fd;
}

void sx_raw_send(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      ADD_FAILURE() << "send failed";
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until EOF (or the 10 s timeout); the byte count.
std::size_t sx_raw_drain_count(int fd) {
  std::size_t total = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
  return total;
}

// Sends `chunk` again and again until a send makes no progress for `stall`, or `cap` bytes are
// sent; the bytes sent. (A peer that floods a reader which does not read.)
std::size_t sx_raw_flood(int fd, std::size_t cap, std::chrono::milliseconds stall) {
  timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(stall).count())};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string chunk(1 << 16, 'f');
  std::size_t sent = 0;
  while (sent < cap) {
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

aio::Task<std::size_t> sx_flood_in_thread(int fd) {
  co_return co_await aio::to_thread(sx_raw_flood, fd, std::size_t(256) << 20,
                                    std::chrono::milliseconds(500));
}
aio::Task<void> sx_send_in_thread(int fd, std::string data) {
  co_await aio::to_thread(sx_raw_send, fd, std::move(data));
}
aio::Task<std::size_t> sx_count_in_thread(int fd) {
  co_return co_await aio::to_thread(sx_raw_drain_count, fd);
}

// ---- server handlers ----------------------------------------------------------------------------

// (concur_test::echo_lines, aio_echo.hpp, echoes line by line until EOF, then closes.)
// Echoes whatever arrives until EOF, then closes.
aio::Task<void> sx_echo_chunks(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string data = co_await reader.read(1 << 16);
    if (data.empty()) break;
    writer.write(data);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

}  // namespace

// ---- round trips ------------------------------------------------------------------------------

namespace {
aio::Task<void> sx_echo_round_trip() {
  aio::Server server = co_await aio::start_server(concur_test::echo_lines, "127.0.0.1", 0);
  EXPECT_TRUE(server.is_serving());
  EXPECT_GT(server.port(), 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
  // Every form write() takes.
  writer.write("a C string\n");
  writer.write(std::string("a std::string\n"));
  writer.write(std::string_view("a string_view\n"));
  const std::vector<char> chars{'v', 'e', 'c', '\n'};
  writer.write(chars);
  const std::array<std::byte, 3> bytes{std::byte{'b'}, std::byte{'y'}, std::byte{'\n'}};
  writer.write(std::span<const std::byte>(bytes));
  writer.writelines(std::vector<std::string>{"one ", "line\n"});
  writer.writelines({"two", "\n"});
  co_await aio::wait_for(writer.drain(), kSxWait);
  const std::vector<std::string> expected{"a C string\n", "a std::string\n", "a string_view\n",
                                          "vec\n",        "by\n",            "one line\n",
                                          "two\n"};
  for (const std::string& want : expected) {
    std::string got = co_await aio::wait_for(reader.readline(), kSxWait);
    EXPECT_EQ(got, want);
  }
  auto peer = writer.get_extra_info("peername");
  EXPECT_TRUE(peer.has_value());
  if (peer) {
    EXPECT_EQ(peer->host, "127.0.0.1");
    EXPECT_EQ(peer->port, server.port());
  }
  EXPECT_FALSE(writer.get_extra_info("no such thing").has_value());
  EXPECT_TRUE(writer.can_write_eof());
  writer.write_eof();  // the server sees EOF, closes: we see EOF
  std::string rest = co_await aio::wait_for(reader.read(), kSxWait);
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(reader.at_eof());
  std::string after = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(after, "");
  EXPECT_THROW(writer.write("x"), concur::RuntimeError);  // after write_eof()
  writer.close();
  EXPECT_TRUE(writer.is_closing());
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  EXPECT_FALSE(server.is_serving());
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, EchoRoundTripWithEveryWriteForm) { aio::run(sx_echo_round_trip()); }

namespace {
aio::Task<void> sx_read_forms() {
  aio::Server server = co_await aio::start_server(sx_echo_chunks, "127.0.0.1", 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
  std::string tail(200000, 't');
  writer.write("line one\nfield\r\nHEADxyz" + tail);
  writer.write_eof();
  std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(line, "line one\n");
  std::string field = co_await aio::wait_for(reader.readuntil("\r\n"), kSxWait);
  EXPECT_EQ(field, "field\r\n");
  std::string head = co_await aio::wait_for(reader.readexactly(4), kSxWait);
  EXPECT_EQ(head, "HEAD");
  std::string some = co_await aio::wait_for(reader.read(3), kSxWait);
  EXPECT_FALSE(some.empty());
  EXPECT_LE(some.size(), 3u);
  EXPECT_EQ(some, std::string("xyz").substr(0, some.size()));
  std::string zero = co_await aio::wait_for(reader.read(0), kSxWait);
  EXPECT_EQ(zero, "");
  std::string all = co_await aio::wait_for(reader.read(-1), kSxWait);  // up to EOF
  EXPECT_EQ(some + all, "xyz" + tail);
  EXPECT_TRUE(reader.at_eof());
  std::string at_eof = co_await aio::wait_for(reader.read(10), kSxWait);
  EXPECT_EQ(at_eof, "");
  std::string nothing = co_await aio::wait_for(reader.readexactly(0), kSxWait);
  EXPECT_EQ(nothing, "");
  bool threw_value_error = false;
  try {
    co_await reader.readexactly(-1);
  } catch (const concur::ValueError&) {
    threw_value_error = true;
  }
  EXPECT_TRUE(threw_value_error);
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, ReadlineReaduntilReadexactlyReadAndEof) { aio::run(sx_read_forms()); }

// ---- limits ---------------------------------------------------------------------------------

namespace {
aio::Task<void> sx_limit_overrun() {
  aio::Server server = co_await aio::start_server(sx_echo_chunks, "127.0.0.1", 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port(), 16);
  EXPECT_EQ(reader.limit(), 16u);
  // A line longer than the limit, then a short one: readline drops the long line and goes on.
  writer.write("0123456789abcdefghij\nshort\n");
  co_await aio::wait_for(writer.drain(), kSxWait);
  bool overrun = false;
  try {
    co_await aio::wait_for(reader.readline(), kSxWait);
  } catch (const aio::LimitOverrunError&) {
    overrun = true;
  }
  EXPECT_TRUE(overrun);
  std::string next = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(next, "short\n");
  // readuntil leaves the bytes in the buffer: they can be read otherwise.
  writer.write("no separator for a long while!");
  co_await aio::wait_for(writer.drain(), kSxWait);
  std::size_t consumed = 0;
  try {
    co_await aio::wait_for(reader.readuntil("!"), kSxWait);
  } catch (const aio::LimitOverrunError& e) {
    consumed = e.consumed();
  }
  EXPECT_GT(consumed, 16u);
  std::string kept = co_await aio::wait_for(reader.readexactly(30), kSxWait);
  EXPECT_EQ(kept, "no separator for a long while!");
  // Garbage without any newline: an error at once past the limit, never a hang.
  writer.write(std::string(1000, '\x01'));
  co_await aio::wait_for(writer.drain(), kSxWait);
  bool garbage = false;
  try {
    co_await aio::wait_for(reader.readline(), kSxWait);
  } catch (const aio::LimitOverrunError&) {
    garbage = true;
  }
  EXPECT_TRUE(garbage);
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, LinesOverTheLimitThrowLimitOverrunError) { aio::run(sx_limit_overrun()); }

namespace {
aio::Task<void> sx_read_flow_control(std::size_t* flooded, std::size_t* received) {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port, 1024);
  const int peer = sx_raw_accept(lfd);
  // The peer floods a reader that reads nothing: reading pauses at 2 x limit, so the peer is
  // held back by TCP after the kernel's buffers, far below the 256 MiB it would send.
  *flooded = co_await aio::wait_for(sx_flood_in_thread(peer), kSxWait * 3);
  ::shutdown(peer, SHUT_WR);
  // Every byte is still there for the reader, and then EOF.
  std::string all = co_await aio::wait_for(reader.read(-1), kSxWait);
  *received = all.size();
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  ::close(peer);
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, AReaderThatDoesNotReadHoldsTheSenderBack) {
  std::size_t flooded = 0, received = 0;
  aio::run(sx_read_flow_control(&flooded, &received));
  EXPECT_GT(flooded, 0u);
  EXPECT_LT(flooded, std::size_t(256) << 20);
  EXPECT_EQ(received, flooded);
}

namespace {
aio::Task<void> sx_split_and_big_reads() {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port, 1024);
  const int peer = sx_raw_accept(lfd);
  // A separator split across two sends.
  sx_raw_send(peer, "ab\r");
  aio::Task<std::string> until = aio::create_task(reader.readuntil("\r\n"));
  co_await aio::sleep(0s);
  sx_raw_send(peer, "\ncd\nef\n");
  std::string got = co_await aio::wait_for(until, kSxWait);
  EXPECT_EQ(got, "ab\r\n");
  std::string cd = co_await aio::wait_for(reader.readline(), kSxWait);
  std::string ef = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(cd + ef, "cd\nef\n");
  // readexactly and read of far more than 2 x limit: reading resumes for them, no deadlock.
  const std::string big(300000, 'B');
  // (More than the kernel's buffers may take at once: sent from another thread.)
  aio::Task<void> sending = aio::create_task(sx_send_in_thread(peer, big));
  std::string exact = co_await aio::wait_for(reader.readexactly(200000), kSxWait);
  EXPECT_EQ(exact, big.substr(0, 200000));
  std::size_t rest = 0;
  while (rest < 100000) {
    std::string part = co_await aio::wait_for(reader.read(50000), kSxWait);
    EXPECT_FALSE(part.empty());
    if (part.empty()) break;
    rest += part.size();
  }
  EXPECT_EQ(rest, 100000u);
  co_await aio::wait_for(sending, kSxWait);
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  ::close(peer);
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, SplitSeparatorsAndReadsLargerThanTheBuffer) { aio::run(sx_split_and_big_reads()); }

namespace {
aio::Task<void> sx_big_echo() {
  // One write of 4 MiB through an echo server: the reply must be read while we drain, or both
  // sides' flow control would hold each other (as in Python).
  aio::Server server = co_await aio::start_server(sx_echo_chunks, "127.0.0.1", 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
  std::string payload(4 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
  aio::Task<std::string> back =
      aio::create_task(reader.readexactly(static_cast<std::ptrdiff_t>(payload.size())));
  writer.write(payload);
  EXPECT_GT(writer.get_write_buffer_size(), 0u);
  co_await aio::wait_for(writer.drain(), kSxWait);
  std::string echoed = co_await aio::wait_for(back, kSxWait);
  EXPECT_TRUE(echoed == payload);
  writer.write_eof();
  std::string end = co_await aio::wait_for(reader.read(), kSxWait);
  EXPECT_EQ(end, "");
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, ABigWriteIsBufferedAndEchoedWhole) { aio::run(sx_big_echo()); }

namespace {
int sx_lines_seen = 0;

aio::Task<void> sx_count_lines(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    ++sx_lines_seen;
  }
  writer.close();
}

aio::Task<void> sx_dropped_handles() {
  sx_lines_seen = 0;
  aio::Server server = co_await aio::start_server(sx_count_lines, "127.0.0.1", 0);
  {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
    writer.write("one\ntwo\n");
  }  // the last handles are gone: the connection is closed, what was written still sent
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);  // the server saw EOF and closed
  EXPECT_EQ(sx_lines_seen, 2);
}
}  // namespace

TEST(AioStreams, DroppingTheLastHandlesClosesTheConnection) { aio::run(sx_dropped_handles()); }

// ---- EOF and vanishing peers -------------------------------------------------------------------

namespace {
aio::Task<void> sx_vanishing_peer() {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
    const int peer = sx_raw_accept(lfd);
    sx_raw_send(peer, "complete\npartial li");
    ::close(peer);  // gone mid-line
    std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
    EXPECT_EQ(line, "complete\n");
    std::string partial = co_await aio::wait_for(reader.readline(), kSxWait);
    EXPECT_EQ(partial, "partial li");
    std::string eof = co_await aio::wait_for(reader.readline(), kSxWait);
    EXPECT_EQ(eof, "");
    EXPECT_TRUE(reader.at_eof());
  }
  {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
    const int peer = sx_raw_accept(lfd);
    sx_raw_send(peer, "abc");
    ::close(peer);
    std::string partial;
    std::size_t expected = 0;
    try {
      co_await aio::wait_for(reader.readexactly(10), kSxWait);
    } catch (const aio::IncompleteReadError& e) {
      partial = e.partial();
      expected = e.expected();
    }
    EXPECT_EQ(partial, "abc");
    EXPECT_EQ(expected, 10u);
  }
  {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
    const int peer = sx_raw_accept(lfd);
    sx_raw_send(peer, "header without end\r");
    ::close(peer);
    bool incomplete = false;
    try {
      co_await aio::wait_for(reader.readuntil("\r\n"), kSxWait);
    } catch (const concur::EOFError& e) {  // IncompleteReadError is an EOFError
      incomplete =
          dynamic_cast<const aio::IncompleteReadError*>(&e) != nullptr &&
          static_cast<const aio::IncompleteReadError&>(e).partial() == "header without end\r";
    }
    EXPECT_TRUE(incomplete);
  }
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, APeerThatVanishesMidLineGivesEofOrIncompleteReadError) {
  aio::run(sx_vanishing_peer());
}

// ---- errors -----------------------------------------------------------------------------------

namespace {
aio::Task<void> sx_refused() {
  int port = 0;
  const int fd = sx_raw_listener(&port, false);  // bound, not listening: the port refuses
  bool refused = false;
  try {
    co_await aio::wait_for(aio::open_connection("127.0.0.1", port), kSxWait);
  } catch (const concur::ConnectionRefusedError& e) {
    refused = true;
    EXPECT_EQ(e.code().value(), ECONNREFUSED);
  }
  EXPECT_TRUE(refused);
  ::close(fd);
}
}  // namespace

TEST(AioStreams, ARefusedConnectionThrowsConnectionRefusedError) { aio::run(sx_refused()); }

namespace {
aio::Task<void> sx_reset() {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  const int peer = sx_raw_accept(lfd);
  linger hard{1, 0};
  ::setsockopt(peer, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(peer);  // RST
  bool reset = false;
  try {
    co_await aio::wait_for(reader.read(100), kSxWait);
  } catch (const concur::ConnectionResetError&) {
    reset = true;
  }
  EXPECT_TRUE(reset);
  EXPECT_NE(reader.exception(), nullptr);
  EXPECT_TRUE(writer.is_closing());
  EXPECT_THROW(writer.write("late"), concur::ConnectionResetError);
  bool drain_reset = false;
  try {
    co_await aio::wait_for(writer.drain(), kSxWait);
  } catch (const concur::ConnectionResetError&) {
    drain_reset = true;
  }
  EXPECT_TRUE(drain_reset);
  bool closed_with_error = false;
  try {
    co_await aio::wait_for(writer.wait_closed(), kSxWait);  // as Python: the error again
  } catch (const concur::ConnectionResetError&) {
    closed_with_error = true;
  }
  EXPECT_TRUE(closed_with_error);
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, AResetThrowsConnectionResetError) { aio::run(sx_reset()); }

namespace {
aio::Task<void> sx_write_to_closed_peer() {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  const int peer = sx_raw_accept(lfd);
  ::close(peer);
  const std::string chunk(1024, 'w');
  bool failed = false;
  bool right_type = false;
  for (int i = 0; i < 10000 && !failed; ++i) {
    try {
      writer.write(chunk);
      co_await aio::wait_for(writer.drain(), kSxWait);
    } catch (const concur::ConnectionError& e) {
      failed = true;
      right_type = dynamic_cast<const concur::BrokenPipeError*>(&e) != nullptr ||
                   dynamic_cast<const concur::ConnectionResetError*>(&e) != nullptr;
    }
    if (!failed) co_await aio::sleep(0s);  // let the loop see the peer's reset
  }
  EXPECT_TRUE(failed);
  EXPECT_TRUE(right_type);
  EXPECT_TRUE(writer.is_closing());
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, WritingToAClosedPeerThrowsBrokenPipeOrConnectionReset) {
  aio::run(sx_write_to_closed_peer());
}

// ---- a peer that stops reading: drain() suspends ------------------------------------------------

namespace {
aio::Task<void> sx_drain_suspends(std::size_t* written, std::size_t* peer_got,
                                  std::size_t* max_buffered) {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  const int peer = sx_raw_accept(lfd);  // reads nothing for now
  const std::string chunk(1 << 16, 'd');
  bool held = false;
  for (int i = 0; i < 4096 && !held; ++i) {  // at most 256 MiB
    writer.write(chunk);
    *written += chunk.size();
    *max_buffered = std::max(*max_buffered, writer.get_write_buffer_size());
    try {
      co_await aio::wait_for(writer.drain(), 300ms);
    } catch (const concur::TimeoutError&) {
      held = true;  // drain() was suspended; wait_for cancelled it
    }
  }
  EXPECT_TRUE(held);
  // The cancelled drain lost nothing: the peer now reads everything, then EOF.
  aio::Task<std::size_t> count = aio::create_task(sx_count_in_thread(peer));
  co_await aio::wait_for(writer.drain(), kSxWait);
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  *peer_got = co_await aio::wait_for(count, kSxWait * 2);
  ::close(peer);
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, DrainSuspendsWhileThePeerStopsReadingAndLosesNothing) {
  std::size_t written = 0, peer_got = 0, max_buffered = 0;
  aio::run(sx_drain_suspends(&written, &peer_got, &max_buffered));
  EXPECT_LT(written, std::size_t(256) << 20);
  EXPECT_LE(max_buffered, std::size_t(64 << 10) + (1 << 16));  // high-water mark + one write
  EXPECT_EQ(peer_got, written);
}

namespace {
aio::Task<void> sx_abandoned_writer(int* peer_out) {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  *peer_out = sx_raw_accept(lfd);
  const std::string chunk(1 << 16, 'a');
  for (int i = 0; i < 256; ++i) writer.write(chunk);  // 16 MiB, far more than the kernel takes
  EXPECT_GT(writer.get_write_buffer_size(), 0u);
  writer.close();  // the flush never ends: the peer does not read; then the loop goes away
  ::close(lfd);
  co_return;
}
}  // namespace

TEST(AioStreams, ALoopDestroyedWithAFlushPendingClosesTheSocket) {
  int peer = -1;
  aio::run(sx_abandoned_writer(&peer));  // AddressSanitizer's leak check: nothing left behind
  ::close(peer);
}

// ---- cancellation -------------------------------------------------------------------------------

namespace {
aio::Task<void> sx_cancelled_readline() {
  int port = 0;
  const int lfd = sx_raw_listener(&port);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  const int peer = sx_raw_accept(lfd);
  sx_raw_send(peer, "par");
  bool timed_out = false;
  try {
    co_await aio::wait_for(reader.readline(), 100ms);  // cancelled while waiting
  } catch (const concur::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  sx_raw_send(peer, "tial\nnext\n");
  std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(line, "partial\n");  // nothing was lost
  std::string next = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(next, "next\n");
  // Two readers at once: the second is refused, as Python.
  aio::Task<std::string> first = aio::create_task(reader.readline());
  co_await aio::sleep(0s);
  bool refused = false;
  try {
    co_await reader.readline();
  } catch (const concur::RuntimeError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  first.cancel();
  bool first_cancelled = false;
  try {
    co_await aio::wait_for(first, kSxWait);
  } catch (const aio::CancelledError&) {
    first_cancelled = true;
  }
  EXPECT_TRUE(first_cancelled);
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  ::close(peer);
  ::close(lfd);
}
}  // namespace

TEST(AioStreams, ACancelledReadlineLosesNoBytes) { aio::run(sx_cancelled_readline()); }

// ---- servers ------------------------------------------------------------------------------------

namespace {
aio::Task<void> sx_server_close() {
  aio::Server server = co_await aio::start_server(concur_test::echo_lines, "127.0.0.1", 0);
  const int port = server.port();
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write("before\n");
  std::string before = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(before, "before\n");
  server.close();
  EXPECT_FALSE(server.is_serving());
  EXPECT_TRUE(server.sockets().empty());
  // No new connections...
  bool refused = false;
  try {
    co_await aio::wait_for(aio::open_connection("127.0.0.1", port), kSxWait);
  } catch (const concur::ConnectionRefusedError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  // ...but the open one goes on, and wait_closed() waits for it.
  aio::Task<void> closed = aio::create_task(server.wait_closed());
  writer.write("after\n");
  std::string after = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(after, "after\n");
  EXPECT_FALSE(closed.done());
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  co_await aio::wait_for(closed, kSxWait);
  EXPECT_TRUE(closed.done());
  co_await aio::wait_for(server.wait_closed(), kSxWait);  // again: at once
}
}  // namespace

TEST(AioStreams, ServerCloseStopsAcceptingAndWaitClosedWaitsForConnections) {
  aio::run(sx_server_close());
}

namespace {
aio::Task<void> sx_serve_forever() {
  // A non-capturing lambda as handle_client.
  aio::Server server = co_await aio::start_server(
      [](aio::StreamReader reader, aio::StreamWriter writer) -> aio::Task<void> {
        std::string name = co_await reader.readline();
        writer.write("hello " + name);
        co_await writer.drain();
        writer.close();
      },
      "127.0.0.1", 0);
  const int port = server.port();
  aio::Task<void> forever = aio::create_task(server.serve_forever());
  co_await aio::sleep(0s);
  {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
    writer.write("world\n");
    std::string reply = co_await aio::wait_for(reader.read(), kSxWait);
    EXPECT_EQ(reply, "hello world\n");
    bool twice = false;
    try {
      co_await server.serve_forever();
    } catch (const concur::RuntimeError&) {
      twice = true;
    }
    EXPECT_TRUE(twice);
  }
  EXPECT_FALSE(forever.done());
  forever.cancel();  // closes the server, waits for its connections
  bool cancelled = false;
  try {
    co_await aio::wait_for(forever, kSxWait);
  } catch (const aio::CancelledError&) {
    cancelled = true;
  }
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(server.is_serving());
  bool refused = false;
  try {
    co_await aio::wait_for(aio::open_connection("127.0.0.1", port), kSxWait);
  } catch (const concur::ConnectionRefusedError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);

  // close() from elsewhere ends serve_forever() too.
  aio::Server second = co_await aio::start_server(concur_test::echo_lines, "127.0.0.1", 0);
  aio::Task<void> forever2 = aio::create_task(second.serve_forever());
  co_await aio::sleep(0s);
  second.close();
  co_await aio::wait_for(forever2, kSxWait);
  EXPECT_TRUE(forever2.done());
  bool closed_refused = false;
  try {
    co_await second.serve_forever();
  } catch (const concur::RuntimeError&) {
    closed_refused = true;
  }
  EXPECT_TRUE(closed_refused);
}
}  // namespace

TEST(AioStreams, CancellingServeForeverClosesTheServer) { aio::run(sx_serve_forever()); }

namespace {
aio::Task<void> sx_failing_handler(aio::StreamReader, aio::StreamWriter) {
  throw std::runtime_error("handler failed on purpose");
  co_return;
}
aio::Task<void> sx_handler_error() {
  aio::Server server = co_await aio::start_server(sx_failing_handler, "127.0.0.1", 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
  std::string got = co_await aio::wait_for(reader.read(), kSxWait);  // closed by the server
  EXPECT_EQ(got, "");
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, AnExceptionInTheHandlerIsReportedAndClosesTheConnection) {
  testing::internal::CaptureStderr();
  aio::run(sx_handler_error());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("handler failed on purpose"), std::string::npos) << err;
}

// ---- many connections at once -------------------------------------------------------------------

namespace {
std::size_t sx_server_bytes = 0;

aio::Task<void> sx_counting_echo(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    sx_server_bytes += line.size();
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
}

aio::Task<std::size_t> sx_one_client(int port, int id) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  std::size_t echoed = 0;
  for (int i = 0; i < 50; ++i) {
    // Lines of different sizes, some over one socket buffer.
    const std::string line =
        std::to_string(id) + ":" + std::to_string(i) + ":" +
        std::string(static_cast<std::size_t>((id * 7919 + i * 104729) % 20000), 'x') + "\n";
    writer.write(line);
    co_await writer.drain();
    std::string back = co_await reader.readline();
    EXPECT_EQ(back, line);
    echoed += back.size();
  }
  writer.write_eof();
  std::string end = co_await reader.read();
  EXPECT_EQ(end, "");
  writer.close();
  co_await writer.wait_closed();
  co_return echoed;
}

aio::Task<void> sx_many_clients(std::size_t* sent, std::size_t* echoed) {
  sx_server_bytes = 0;
  aio::Server server = co_await aio::start_server(sx_counting_echo, "127.0.0.1", 0);
  std::vector<aio::Task<std::size_t>> clients;
  for (int id = 0; id < 40; ++id) clients.push_back(sx_one_client(server.port(), id));
  std::vector<std::size_t> results =
      co_await aio::wait_for(aio::gather(std::move(clients)), kSxWait * 3);
  *echoed = std::accumulate(results.begin(), results.end(), std::size_t(0));
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
  *sent = sx_server_bytes;
}
}  // namespace

TEST(AioStreams, ManyConnectionsAtOnceEchoEveryByte) {
  std::size_t sent = 0, echoed = 0;
  aio::run(sx_many_clients(&sent, &echoed));
  std::size_t expected = 0;
  for (int id = 0; id < 40; ++id)
    for (int i = 0; i < 50; ++i)
      expected += std::to_string(id).size() + std::to_string(i).size() + 3 +
                  static_cast<std::size_t>((id * 7919 + i * 104729) % 20000);
  EXPECT_EQ(sent, expected);
  EXPECT_EQ(echoed, expected);
}

// ---- addresses ----------------------------------------------------------------------------------

namespace {
bool sx_ipv6_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

aio::Task<void> sx_ipv6_echo() {
  aio::Server server = co_await aio::start_server(concur_test::echo_lines, "::1", 0);
  auto [reader, writer] = co_await aio::open_connection("::1", server.port());
  writer.write("over IPv6\n");
  std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(line, "over IPv6\n");
  auto peer = writer.get_extra_info("peername");
  EXPECT_TRUE(peer && peer->host == "::1");
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}

aio::Task<void> sx_localhost_by_name() {
  // A name, resolved off the loop (getaddrinfo on the default executor); "localhost" may give
  // ::1 first, which this IPv4-only server refuses: the next address is tried.
  aio::Server server = co_await aio::start_server(concur_test::echo_lines, "127.0.0.1", 0);
  auto [reader, writer] =
      co_await aio::wait_for(aio::open_connection("localhost", server.port()), kSxWait);
  writer.write("by name\n");
  std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
  EXPECT_EQ(line, "by name\n");
  writer.close();
  co_await aio::wait_for(writer.wait_closed(), kSxWait);
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
}
}  // namespace

TEST(AioStreams, Ipv6Loopback) {
  if (!sx_ipv6_available()) GTEST_SKIP() << "no IPv6 loopback here";
  aio::run(sx_ipv6_echo());
}

TEST(AioStreams, HostNamesAreResolvedAndEachAddressTried) { aio::run(sx_localhost_by_name()); }

namespace {
aio::Task<void> sx_every_interface(bool ipv6) {
  // host "": every interface; with port 0 the IPv4 and IPv6 sockets share one port.
  aio::Server server = co_await aio::start_server(concur_test::echo_lines, "", 0);
  const std::vector<aio::SocketAddress> sockets = server.sockets();
  EXPECT_GE(sockets.size(), 1u);
  for (const aio::SocketAddress& s : sockets) EXPECT_EQ(s.port, server.port());
  std::vector<std::string> hosts{"127.0.0.1"};
  if (ipv6) hosts.push_back("::1");
  for (const std::string& host : hosts) {
    auto [reader, writer] = co_await aio::open_connection(host, server.port());
    writer.write("via " + host + "\n");
    std::string line = co_await aio::wait_for(reader.readline(), kSxWait);
    EXPECT_EQ(line, "via " + host + "\n");
    writer.close();
    co_await aio::wait_for(writer.wait_closed(), kSxWait);
  }
  server.close();
  co_await aio::wait_for(server.wait_closed(), kSxWait);
  bool bad_limit = false;
  try {
    co_await aio::open_connection("127.0.0.1", server.port(), 0);
  } catch (const concur::ValueError&) {
    bad_limit = true;
  }
  EXPECT_TRUE(bad_limit);
}
}  // namespace

TEST(AioStreams, AnEmptyHostServesEveryInterfaceOnOnePort) {
  aio::run(sx_every_interface(sx_ipv6_available()));
}
