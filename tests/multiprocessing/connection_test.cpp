// mp::Pipe and mp::Connection (concur/multiprocessing/connection.hpp, API.md §6.2), after
// CPython's Lib/test/_test_multiprocessing.py (_TestConnection): round trips, the byte forms,
// poll with timeouts, EOF, BufferTooShort, read-only and write-only ends, closed handles, big
// messages, signals, broken frames, two threads and a forked child.
//
// Every blocking call is bounded: a recv is preceded by a poll with a long_wait() bound, or its
// message was sent before it; the test watchdog catches the rest.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <concur/multiprocessing.hpp>

#include "bounded_child.hpp"
#include "shared_support.hpp"
#include "test_support.hpp"

namespace {

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::long_wait;
using concur_test::start_child;
using Bytes = std::vector<std::byte>;

Bytes bytes(std::string_view s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

struct Message {
  int id = 0;
  std::string text;
  std::map<std::string, std::vector<double>> data;
  std::optional<std::variant<int, std::string>> extra;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, text, data, extra);
  }
  bool operator==(const Message&) const = default;
};

TEST(Connection, DuplexRoundTrips) {
  auto [a, b] = mp::Pipe();
  EXPECT_TRUE(a.readable());
  EXPECT_TRUE(a.writable());
  a.send(42);
  a.send(std::string("hello"));
  a.send(std::vector<int>{1, 2, 3});
  const Message m{7, "seven", {{"k", {1.5, 2.5}}}, std::variant<int, std::string>("x")};
  a.send(m);
  EXPECT_EQ(b.recv<int>(), 42);
  EXPECT_EQ(b.recv<std::string>(), "hello");
  EXPECT_EQ(b.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(b.recv<Message>(), m);
  a.send("a literal");  // text crosses as a std::string, as Python's str
  a.send(std::string_view("a view"));
  const char* c_string = "a C string";
  a.send(c_string);
  EXPECT_EQ(b.recv<std::string>(), "a literal");
  EXPECT_EQ(b.recv<std::string>(), "a view");
  EXPECT_EQ(b.recv<std::string>(), "a C string");
  // And the other way.
  b.send(3.5);
  EXPECT_EQ(a.recv<double>(), 3.5);
}

TEST(Connection, OneWayPipe) {
  auto [r, w] = mp::Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  w.send(std::string("one way"));
  EXPECT_EQ(r.recv<std::string>(), "one way");
  try {
    r.send(1);
    FAIL() << "send on a read-only end";
  } catch (const concur::OSError& e) {
    EXPECT_STREQ(e.what(), "connection is read-only");
  }
  EXPECT_THROW(r.send_bytes(bytes("x")), concur::OSError);
  EXPECT_THROW((void)w.recv<int>(), concur::OSError);
  EXPECT_THROW((void)w.recv_bytes(), concur::OSError);
  EXPECT_THROW((void)w.poll(), concur::OSError);
}

TEST(Connection, SendBytesForms) {
  auto [a, b] = mp::Pipe();
  const Bytes msg = bytes("abcdefghij");
  a.send_bytes(msg);
  EXPECT_EQ(b.recv_bytes(), msg);
  a.send_bytes(msg, 7);
  EXPECT_EQ(b.recv_bytes(), bytes("hij"));
  a.send_bytes(msg, 2, 3);
  EXPECT_EQ(b.recv_bytes(), bytes("cde"));
  a.send_bytes(msg, 10);  // empty message
  EXPECT_EQ(b.recv_bytes(), Bytes());
  a.send_bytes("literal");  // no terminating NUL
  EXPECT_EQ(b.recv_bytes(), bytes("literal"));
  a.send_bytes(std::string("str"), 1);
  EXPECT_EQ(b.recv_bytes(), bytes("tr"));
  const std::vector<std::int32_t> ints{1, 2};  // any contiguous range, counted in bytes
  a.send_bytes(ints, 4);
  Bytes two(4);
  std::memcpy(two.data(), &ints[1], 4);
  EXPECT_EQ(b.recv_bytes(), two);
  const std::array<unsigned char, 3> arr{1, 2, 3};
  a.send_bytes(arr);
  EXPECT_EQ(b.recv_bytes().size(), 3u);
  EXPECT_THROW(a.send_bytes(msg, 11), concur::ValueError);
  EXPECT_THROW(a.send_bytes(msg, 5, 6), concur::ValueError);
  EXPECT_THROW(a.send_bytes(msg, static_cast<std::size_t>(-1), 1), concur::ValueError);
  EXPECT_FALSE(b.poll());  // the refused sends sent nothing
}

TEST(Connection, FramesArePythonsFraming) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("abc");
  unsigned char wire[7] = {};
  ASSERT_EQ(::read(b.fileno(), wire, sizeof wire), 7);
  const unsigned char expected[7] = {0, 0, 0, 3, 'a', 'b', 'c'};
  EXPECT_EQ(std::memcmp(wire, expected, 7), 0);
}

TEST(Connection, RecvBytesMaxlength) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("12345");
  EXPECT_EQ(b.recv_bytes(5), bytes("12345"));
  a.send_bytes("123456");
  try {
    (void)b.recv_bytes(5);
    FAIL() << "a message longer than maxlength";
  } catch (const concur::OSError& e) {
    EXPECT_NE(std::string(e.what()).find("bad message length"), std::string::npos) << e.what();
  }
  // As Python: the end can no longer be trusted to be in step and stops reading.
  EXPECT_FALSE(b.readable());
  EXPECT_TRUE(b.writable());
  EXPECT_THROW((void)b.recv_bytes(), concur::OSError);
  // A read-only end is closed instead.
  auto [r, w] = mp::Pipe(false);
  w.send_bytes("toolong");
  EXPECT_THROW((void)r.recv_bytes(3), concur::OSError);
  EXPECT_TRUE(r.closed());
}

TEST(Connection, RecvBytesInto) {
  auto [a, b] = mp::Pipe();
  std::array<std::byte, 8> buffer{};
  a.send_bytes("abc");
  EXPECT_EQ(b.recv_bytes_into(buffer), 3u);
  EXPECT_EQ(std::memcmp(buffer.data(), "abc", 3), 0);
  a.send_bytes("xy");
  EXPECT_EQ(b.recv_bytes_into(buffer, 6), 2u);
  EXPECT_EQ(std::memcmp(buffer.data() + 6, "xy", 2), 0);
  std::vector<char> chars(4);
  a.send_bytes("wxyz");
  EXPECT_EQ(b.recv_bytes_into(chars), 4u);
  EXPECT_EQ(std::string(chars.begin(), chars.end()), "wxyz");

  a.send_bytes("0123456789");
  try {
    (void)b.recv_bytes_into(buffer);
    FAIL() << "a buffer too short";
  } catch (const mp::BufferTooShort& e) {
    EXPECT_EQ(e.message(), bytes("0123456789"));  // the whole message
  }
  a.send_bytes("12");
  EXPECT_THROW((void)b.recv_bytes_into(buffer, 7), mp::BufferTooShort);
  // The end stays usable.
  a.send_bytes("ok");
  EXPECT_EQ(b.recv_bytes_into(buffer), 2u);
  EXPECT_THROW((void)b.recv_bytes_into(buffer, 9), concur::ValueError);
}

TEST(Connection, EOFAfterTheMessagesAreDrained) {
  auto [a, b] = mp::Pipe();
  a.send(1);
  a.send(2);
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv<int>(), 1);
  EXPECT_EQ(b.recv<int>(), 2);
  EXPECT_TRUE(b.poll());  // the end of the stream: a recv would not block
  EXPECT_THROW((void)b.recv<int>(), concur::EOFError);
  EXPECT_THROW((void)b.recv_bytes(), concur::EOFError);
  EXPECT_THROW((void)b.recv_bytes_into(std::array<std::byte, 4>{}), concur::EOFError);

  auto [r, w] = mp::Pipe(false);
  w.close();
  EXPECT_THROW((void)r.recv_bytes(), concur::EOFError);
}

TEST(Connection, SendToAClosedPeerIsBrokenPipe) {
  // No SIGPIPE kills the process, on a socketpair or on a pipe.
  auto [a, b] = mp::Pipe();
  b.close();
  EXPECT_THROW(a.send(1), concur::BrokenPipeError);
  auto [r, w] = mp::Pipe(false);
  r.close();
  EXPECT_THROW(w.send_bytes("x"), concur::BrokenPipeError);
  EXPECT_THROW(w.send(std::string("y")), concur::BrokenPipeError);
  // SIGPIPE is not left pending in this thread either.
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(Connection, ClosedHandle) {
  auto [a, b] = mp::Pipe();
  const mp::Connection copy = a;  // a copy is the same channel
  a.close();
  a.close();  // idempotent
  EXPECT_TRUE(copy.closed());
  EXPECT_FALSE(a.readable());
  EXPECT_FALSE(a.writable());
  try {
    a.send(1);
    FAIL();
  } catch (const concur::OSError& e) {
    EXPECT_STREQ(e.what(), "handle is closed");
  }
  EXPECT_THROW((void)a.recv<int>(), concur::OSError);
  EXPECT_THROW((void)a.poll(), concur::OSError);
  EXPECT_THROW((void)a.fileno(), concur::OSError);
  const mp::Connection none;
  EXPECT_TRUE(none.closed());
}

TEST(Connection, CopiesShareTheChannel) {
  auto [a, b] = mp::Pipe();
  mp::Connection a2 = a;
  a2.send(5);
  EXPECT_EQ(a.fileno(), a2.fileno());
  EXPECT_EQ(b.recv<int>(), 5);
  {
    mp::Connection gone = std::move(a2);
  }
  a.send(6);  // the other copies keep it open
  EXPECT_EQ(b.recv<int>(), 6);
}

TEST(Connection, AdoptsADescriptorAndDetaches) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  mp::Connection a(fds[0]);
  mp::Connection b(fds[1], /*readable=*/true, /*writable=*/false);
  EXPECT_FALSE(b.writable());
  a.send(std::string("adopted"));
  EXPECT_EQ(b.recv<std::string>(), "adopted");
  const int fd = b.detach();
  EXPECT_TRUE(b.closed());
  EXPECT_EQ(fd, fds[1]);
  mp::Connection again(fd);
  a.send(1);
  EXPECT_EQ(again.recv<int>(), 1);
  EXPECT_THROW(mp::Connection(-1), concur::ValueError);
  EXPECT_THROW(mp::Connection(fds[0], false, false), concur::ValueError);
}

TEST(Connection, ReadAheadKeepsTheNextMessagesForTheNextRecv) {
  auto [a, b] = mp::Pipe();
  // Many small messages, then one longer than the read-ahead, then small ones: they all arrive
  // whole and in order, whatever each read happened to take.
  const std::string big(100'000, 'x');
  for (int i = 0; i < 50; ++i) a.send(i);
  a.send(big);
  a.send(std::string("after"));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(b.poll(long_wait()));
    EXPECT_EQ(b.recv<int>(), i);
  }
  ASSERT_TRUE(b.poll(long_wait()));
  EXPECT_EQ(b.recv<std::string>(), big);
  EXPECT_EQ(b.recv<std::string>(), "after");
  EXPECT_FALSE(b.poll());
  // recv_bytes_into reads a message that fits straight into the caller's buffer, after what the
  // read-ahead holds.
  a.send_bytes(std::string("small"));
  a.send_bytes(big);
  std::vector<char> into(big.size() + 3, '-');
  ASSERT_TRUE(b.poll(long_wait()));
  EXPECT_EQ(b.recv_bytes_into(into, 3), 5u);
  EXPECT_EQ(std::string(into.data() + 3, 5), "small");
  EXPECT_EQ(b.recv_bytes_into(into, 3), big.size());
  EXPECT_EQ(std::string(into.begin() + 3, into.end()), big);
  EXPECT_EQ(std::string(into.begin(), into.begin() + 3), "---");
}

TEST(Connection, PollSeesMessagesReadAheadThatTheDescriptorNoLongerShows) {
  auto [a, b] = mp::Pipe();
  a.send(1);
  a.send(2);
  ASSERT_TRUE(b.poll(long_wait()));
  EXPECT_EQ(b.recv<int>(), 1);  // one read took both frames: the descriptor is empty now
  pollfd p{b.fileno(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_TRUE(b.poll());
  EXPECT_TRUE(b.poll(0ms));
  // detach() would lose the waiting message: refused until it is received.
  EXPECT_THROW((void)b.detach(), concur::OSError);
  EXPECT_FALSE(b.closed());
  EXPECT_EQ(b.recv<int>(), 2);
  const int fd = b.detach();
  EXPECT_GE(fd, 0);
  ::close(fd);
}

TEST(Connection, PollFromAnotherThreadWhileOneReceives) {
  // poll() may run while another thread is inside recv (which reads ahead): every message still
  // arrives once, in order.
  mp::Connection a, b;
  std::tie(a, b) = mp::Pipe();
  constexpr int kMessages = 2000;
  std::atomic<bool> done{false};
  std::jthread poller([&] {
    while (!done.load(std::memory_order_relaxed)) (void)b.poll();
  });
  std::jthread sender([&] {
    for (int i = 0; i < kMessages; ++i) a.send(i);
  });
  struct StopPolling {  // however the test ends, before the threads are joined
    std::atomic<bool>& done;
    ~StopPolling() { done.store(true); }
  } stop{done};
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(b.poll(long_wait()));
    ASSERT_EQ(b.recv<int>(), i);
  }
}

TEST(Connection, FramesThatTrickleInByteByByte) {
  // A peer that writes one byte at a time: headers and payloads split at every byte.
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  mp::Connection b(fds[1]);
  mp::Connection a(fds[0]);
  std::vector<std::byte> stream;
  {
    auto [x, y] = mp::Pipe();  // framing done by a Connection, captured from the other end
    for (int i = 0; i < 3; ++i) x.send_bytes(std::string(static_cast<std::size_t>(i) * 7, 'q'));
    x.close();
    for (int i = 0; i < 3; ++i) {
      const auto m = y.recv_bytes();
      const std::uint32_t n = static_cast<std::uint32_t>(m.size());
      const std::byte header[4] = {std::byte(n >> 24), std::byte(n >> 16), std::byte(n >> 8),
                                   std::byte(n)};
      stream.insert(stream.end(), header, header + 4);
      stream.insert(stream.end(), m.begin(), m.end());
    }
  }
  std::jthread writer([&] {
    for (const std::byte c : stream) {
      if (::write(a.fileno(), &c, 1) != 1) return;
      std::this_thread::yield();
    }
  });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.poll(long_wait()));
    EXPECT_EQ(b.recv_bytes().size(), static_cast<std::size_t>(i) * 7);
  }
}

TEST(Connection, PollTimeouts) {
  auto [a, b] = mp::Pipe();
  EXPECT_FALSE(b.poll());
  EXPECT_FALSE(b.poll(0ms));
  EXPECT_FALSE(b.poll(-5ms));
  EXPECT_FALSE(b.poll(std::chrono::duration<double>(0.02)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.poll(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);  // it waited
  a.send(1);
  EXPECT_TRUE(b.poll());
  EXPECT_TRUE(b.poll(long_wait()));
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_TRUE(b.poll());  // poll does not consume
  EXPECT_EQ(b.recv<int>(), 1);
  EXPECT_FALSE(b.poll());
}

TEST(Connection, PollWakesWhenAnotherThreadSends) {
  mp::Connection a, b;  // (clang 14 cannot capture structured bindings)
  std::tie(a, b) = mp::Pipe();
  std::thread sender([&a] { a.send(std::string("wake")); });
  EXPECT_TRUE(b.poll(long_wait()));
  EXPECT_EQ(b.recv<std::string>(), "wake");
  sender.join();
}

TEST(Connection, TwoThreadsPingPong) {
  mp::Connection a, b;
  std::tie(a, b) = mp::Pipe();
  constexpr int kRounds = 2000;
  std::thread echo([&b] {
    for (;;) {
      const int v = b.recv<int>();
      if (v < 0) return;
      b.send(v + 1);
    }
  });
  int sum = 0;
  for (int i = 0; i < kRounds; ++i) {
    a.send(i);
    ASSERT_TRUE(a.poll(long_wait()));
    const int r = a.recv<int>();
    ASSERT_EQ(r, i + 1);
    sum += r;
  }
  a.send(-1);
  echo.join();
  EXPECT_EQ(sum, kRounds * (kRounds + 1) / 2);
}

TEST(Connection, ManyMessagesOneWayInOrder) {
  mp::Connection r, w;
  std::tie(r, w) = mp::Pipe(false);
  constexpr int kCount = 20000;
  std::thread producer([&w] {
    for (int i = 0; i < kCount; ++i) w.send(std::vector<int>{i, -i});
    w.close();
  });
  int expected = 0;
  for (;;) {
    ASSERT_TRUE(r.poll(long_wait()));
    std::vector<int> v;
    try {
      v = r.recv<std::vector<int>>();
    } catch (const concur::EOFError&) {
      break;
    }
    ASSERT_EQ(v, (std::vector<int>{expected, -expected}));
    ++expected;
  }
  producer.join();
  EXPECT_EQ(expected, kCount);
}

TEST(Connection, BigMessages) {
  mp::Connection a, b;
  std::tie(a, b) = mp::Pipe();
  std::vector<std::uint32_t> big(3 << 20);  // 12 MiB
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint32_t>(i * 2654435761u);
  std::string text(1 << 20, 'q');
  text[12345] = 'Q';
  Bytes raw(5 << 20);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i % 251);
  std::thread sender([&] {
    a.send(big);
    a.send(text);
    a.send_bytes(raw);
    a.send_bytes(raw, 1 << 20, 2 << 20);
  });
  EXPECT_EQ(b.recv<std::vector<std::uint32_t>>(), big);
  EXPECT_EQ(b.recv<std::string>(), text);
  EXPECT_EQ(b.recv_bytes(), raw);
  const Bytes part = b.recv_bytes();
  sender.join();
  EXPECT_EQ(part, Bytes(raw.begin() + (1 << 20), raw.begin() + (3 << 20)));
}

TEST(Connection, BigMessagesOverNonBlockingDescriptors) {
  // A descriptor left in non-blocking mode: a full or empty buffer is waited on with poll().
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  for (int fd : fds) ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  mp::Connection a(fds[0]);
  mp::Connection b(fds[1]);
  const std::string text(3 << 20, 'n');
  std::thread sender([&] { a.send(text); });
  EXPECT_EQ(b.recv<std::string>(), text);
  sender.join();
}

extern "C" void ignore_signal(int) {}

TEST(Connection, SignalsDoNotBreakBlockedCalls) {
  // A handler installed without SA_RESTART: every blocked read and write sees EINTR, and a big
  // write is cut short; both resume.
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  mp::Connection a, b;
  std::tie(a, b) = mp::Pipe();
  const std::string text(8 << 20, 's');
  std::atomic<bool> done{false};
  std::string got;
  std::thread receiver([&] {
    got = b.recv<std::string>();
    done.store(true);
  });
  std::thread sender([&] { a.send(text); });
  // Signal both threads while they work (the sleeps only give them time to be interrupted).
  for (int i = 0; i < 50 && !done.load(); ++i) {
    ::pthread_kill(receiver.native_handle(), SIGUSR1);
    ::pthread_kill(sender.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(1ms);
  }
  sender.join();
  receiver.join();
  EXPECT_EQ(got, text);
  ::sigaction(SIGUSR1, &old, nullptr);
}

TEST(Connection, ExceptionsCross) {
  auto [a, b] = mp::Pipe();
  a.send(std::make_exception_ptr(concur::ValueError("bad")));
  a.send(std::make_exception_ptr(std::out_of_range("range")));
  struct Mine : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  a.send(std::make_exception_ptr(Mine("mine")));
  EXPECT_THROW(std::rethrow_exception(b.recv<std::exception_ptr>()), concur::ValueError);
  EXPECT_THROW(std::rethrow_exception(b.recv<std::exception_ptr>()), std::out_of_range);
  try {
    std::rethrow_exception(b.recv<std::exception_ptr>());
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(e.type_name().find("Mine"), std::string::npos);
    EXPECT_EQ(e.message(), "mine");
  }
}

// --- broken frames from a peer that is not concur ---

void write_raw(int fd, const Bytes& b) {
  ASSERT_EQ(::write(fd, b.data(), b.size()), static_cast<ssize_t>(b.size()));
}

TEST(Connection, BrokenFrames) {
  {  // A length over the limit: refused before anything is allocated for it.
    auto [a, b] = mp::Pipe();
    write_raw(a.fileno(), Bytes{std::byte{0x7F}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xF0}});
    b.set_max_message_size(1 << 20);
    EXPECT_THROW((void)b.recv_bytes(), concur::OSError);
  }
  {  // The long form, claiming 2^62 bytes.
    auto [a, b] = mp::Pipe();
    Bytes h(12, std::byte{0});
    for (int i = 0; i < 4; ++i) h[i] = std::byte{0xFF};
    h[4] = std::byte{0x40};
    write_raw(a.fileno(), h);
    EXPECT_THROW((void)b.recv<std::string>(), concur::OSError);
  }
  {  // A negative length.
    auto [a, b] = mp::Pipe();
    write_raw(a.fileno(), Bytes{std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{1}});
    EXPECT_THROW((void)b.recv_bytes(), concur::OSError);
  }
  {  // A frame cut short by the end of the stream (and a header cut short).
    auto [a, b] = mp::Pipe();
    write_raw(a.fileno(), Bytes{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{10},
                                std::byte{1}, std::byte{2}});
    a.close();
    try {
      (void)b.recv_bytes();
      FAIL();
    } catch (const concur::OSError& e) {
      EXPECT_NE(std::string(e.what()).find("end of file during message"), std::string::npos);
    }
    auto [c, d] = mp::Pipe();
    write_raw(c.fileno(), Bytes{std::byte{0}, std::byte{0}});
    c.close();
    EXPECT_THROW((void)d.recv_bytes(), concur::OSError);
  }
  {  // A frame whose bytes are not the type asked for: ValueError, and the next frame is read.
    auto [a, b] = mp::Pipe();
    a.send_bytes("abc");  // 3 bytes are not an int
    a.send(std::int64_t{1} << 40);  // 8 bytes: as a string, a count of 2^40 chars
    a.send(7);
    EXPECT_THROW((void)b.recv<int>(), concur::ValueError);
    EXPECT_THROW((void)b.recv<std::string>(), concur::ValueError);
    EXPECT_EQ(b.recv<int>(), 7);
  }
}

// --- across fork() ---

using ReapOnExit = shared_test::Reap;  // reaps the child however the test ends

TEST(Connection, AcrossFork) {
  mp::Connection parent_end, child_end, r, w;
  std::tie(parent_end, child_end) = mp::Pipe();
  std::tie(r, w) = mp::Pipe(false);
  const pid_t pid = start_child([&] {
    parent_end.close();  // the child's copies of the parent's ends
    r.close();
    // Echo with a twist until told to stop, then answer with an exception, a big message on
    // the one-way pipe, and its pid.
    for (;;) {
      CHILD_CHECK(child_end.poll(long_wait()));
      const auto m = child_end.recv<Message>();
      if (m.id < 0) break;
      Message reply = m;
      reply.id = m.id * 2;
      reply.text += "!";
      child_end.send(reply);
    }
    child_end.send(std::make_exception_ptr(concur::RuntimeError("from the child")));
    w.send_bytes(std::string(2 << 20, 'c'));
    child_end.send(static_cast<int>(::getpid()));
    return 0;
  });
  ASSERT_GT(pid, 0);
  ReapOnExit child{pid};
  child_end.close();  // the parent's copies of the child's ends: EOF comes when the child exits
  w.close();
  for (int i = 1; i <= 50; ++i) {
    const Message m{i, "m" + std::to_string(i), {{"v", {double(i)}}}, std::nullopt};
    parent_end.send(m);
    ASSERT_TRUE(parent_end.poll(long_wait()));
    const auto reply = parent_end.recv<Message>();
    EXPECT_EQ(reply.id, 2 * i);
    EXPECT_EQ(reply.text, m.text + "!");
    EXPECT_EQ(reply.data, m.data);
  }
  parent_end.send(Message{-1, "stop", {}, std::nullopt});
  ASSERT_TRUE(parent_end.poll(long_wait()));
  EXPECT_THROW(std::rethrow_exception(parent_end.recv<std::exception_ptr>()), concur::RuntimeError);
  ASSERT_TRUE(r.poll(long_wait()));
  EXPECT_EQ(r.recv_bytes().size(), std::size_t{2} << 20);
  ASSERT_TRUE(parent_end.poll(long_wait()));
  EXPECT_EQ(parent_end.recv<int>(), static_cast<int>(pid));
  EXPECT_EQ(child.wait(), 0);
  // The child is gone and every copy of its ends with it.
  ASSERT_TRUE(parent_end.poll(long_wait()));
  EXPECT_THROW((void)parent_end.recv<int>(), concur::EOFError);
  EXPECT_THROW((void)r.recv_bytes(), concur::EOFError);
  EXPECT_THROW(parent_end.send(1), concur::BrokenPipeError);
}

TEST(Connection, ChildThatDiesMidMessage) {
  // A child killed while its message is half written: the parent sees a broken frame, not a
  // hang or a crash.
  mp::Connection r, w;
  std::tie(r, w) = mp::Pipe(false);
  const pid_t pid = start_child([&] {
    r.close();
    const unsigned char header[4] = {0, 0, 1, 0};  // 256 bytes announced, 10 sent
    const unsigned char body[10] = {};
    CHILD_CHECK(::write(w.fileno(), header, 4) == 4);
    CHILD_CHECK(::write(w.fileno(), body, 10) == 10);
    ::_exit(0);
    return 0;
  });
  ASSERT_GT(pid, 0);
  ReapOnExit child{pid};
  w.close();
  EXPECT_EQ(child.wait(), 0);
  ASSERT_TRUE(r.poll(long_wait()));
  EXPECT_THROW((void)r.recv_bytes(), concur::OSError);
}

}  // namespace
