// Descriptors crossing beside serialized values (detail/fd_table.hpp): the seam that start
// methods use to pass Connections, queues and shared objects to a child.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "concur/multiprocessing.hpp"

namespace mp = concur::multiprocessing;
namespace mpd = concur::multiprocessing::detail;

namespace {

// Sends `bytes` with the table's descriptors over a socketpair and returns what arrived.
std::vector<std::byte> cross(const mpd::ByteBuffer& bytes, const mpd::FdTable& out,
                             mpd::FdTable& in) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const std::uint64_t size = bytes.size();
  mpd::send_with_fds(sv[0], std::as_bytes(std::span(&size, 1)), out.sending());
  mpd::send_with_fds(sv[0], bytes.view(), {});
  std::uint64_t got = 0;
  std::vector<int> fds;
  mpd::recv_with_fds(sv[1], std::as_writable_bytes(std::span(&got, 1)), fds);
  std::vector<std::byte> data(got);
  mpd::recv_with_fds(sv[1], data, fds);
  in.adopt_received(std::move(fds));
  ::close(sv[0]);
  ::close(sv[1]);
  return data;
}

}  // namespace

TEST(FdTable, ConnectionsCrossWithTheirDescriptors) {
  auto [a, b] = mp::Pipe();
  auto [r, w] = mp::Pipe(false);
  mpd::ByteBuffer buffer;
  mpd::FdTable out;
  mp::serialize_into(buffer, std::tuple{std::string("x"), b, w, mp::Connection()}, &out);
  EXPECT_EQ(out.sending().size(), 2u);
  mpd::FdTable in;
  auto data = cross(buffer, out, in);
  std::tuple<std::string, mp::Connection, mp::Connection, mp::Connection> got;
  mp::deserialize_into(data, got, &in);
  auto& [s, b2, w2, closed] = got;
  EXPECT_EQ(s, "x");
  EXPECT_TRUE(closed.closed());
  EXPECT_FALSE(w2.readable());
  EXPECT_NE(b2.fileno(), b.fileno());
  b2.send(42);
  EXPECT_EQ(a.recv<int>(), 42);
  a.send(std::string("back"));
  EXPECT_EQ(b2.recv<std::string>(), "back");
  w2.send(7);
  EXPECT_EQ(r.recv<int>(), 7);
}

TEST(FdTable, AConnectionCannotBeSentAsAValue) {
  auto [a, b] = mp::Pipe();
  try {
    a.send(b);
    FAIL() << "sent a Connection";
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("Process or Pool argument"), std::string::npos);
  }
  EXPECT_THROW((void)mp::serialize(b), concur::ValueError);
}

TEST(FdTable, AnIndexThatDidNotArriveIsAValueError) {
  auto [a, b] = mp::Pipe();
  mpd::ByteBuffer buffer;
  mpd::FdTable out;
  mp::serialize_into(buffer, b, &out);
  mpd::FdTable empty;
  empty.adopt_received({});
  mp::Connection c;
  EXPECT_THROW(mp::deserialize_into(buffer.view(), c, &empty), concur::ValueError);
  EXPECT_THROW(mp::deserialize_into(buffer.view(), c), concur::ValueError);
}

TEST(FdTable, UntakenDescriptorsAreClosed) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  {
    mpd::FdTable t;
    t.adopt_received({p[0]});
  }
  EXPECT_EQ(::fcntl(p[0], F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  ::close(p[1]);
}
