// mp::Queue, JoinableQueue and SimpleQueue (concur/multiprocessing/queues.hpp), in one process
// and across forked processes. Cases after CPython's Lib/test/_test_multiprocessing.py
// (_TestQueue) where they apply.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bounded_child.hpp"
#include "concur/multiprocessing.hpp"
#include "concur/queue/errors.hpp"
#include "concur/threading.hpp"

namespace mp = concur::multiprocessing;
namespace cq = concur::queue;
using namespace std::chrono_literals;
using concur_test::fork_and_wait;
using concur_test::start_child;
using concur_test::wait_for_child;

namespace {
constexpr auto kLong = std::chrono::seconds(30 * CONCUR_TEST_TIME_SCALE);
}

TEST(MpQueue, FifoInOneProcess) {
  mp::Queue<int> q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 100; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 100);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(q.get(kLong), i);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0);
}

TEST(MpQueue, ValuesOfEveryKindCross) {
  mp::Queue<std::tuple<std::string, std::vector<double>, int>> q;
  q.put({"x", {1.5, 2.5}, 3});
  auto [s, v, i] = q.get(kLong);
  EXPECT_EQ(s, "x");
  EXPECT_EQ(v, (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(i, 3);
}

TEST(MpQueue, EmptyAndFull) {
  mp::Queue<int> q(2);
  EXPECT_THROW(q.get_nowait(), cq::Empty);
  EXPECT_THROW(q.get(false), cq::Empty);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(20ms), cq::Empty);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  q.put(1);
  q.put(2, false);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(3), cq::Full);
  EXPECT_THROW(q.put(3, false), cq::Full);
  EXPECT_THROW(q.put(3, 20ms), cq::Full);
  EXPECT_EQ(q.qsize(), 2);
  EXPECT_EQ(q.get(kLong), 1);
  q.put(3, kLong);
  EXPECT_EQ(q.get(kLong), 2);
  EXPECT_EQ(q.get(kLong), 3);
  EXPECT_THROW(q.put(1, false, 1s), concur::ValueError);  // a timeout on a non-blocking call
}

TEST(MpQueue, ABoundedPutWaitsForAGet) {
  mp::Queue<int> q(1);
  q.put(1);
  std::atomic<bool> put{false};
  concur::threading::Thread t([&] {
    q.put(2, kLong);
    put = true;
  });
  t.start();
  EXPECT_EQ(q.get(kLong), 1);
  EXPECT_EQ(q.get(kLong), 2);
  ASSERT_TRUE(t.join(kLong));
  EXPECT_TRUE(put);
}

// More bytes than the channel holds, put before any get: the feeder writes what the ring cannot
// take at once, and nothing is lost or reordered.
TEST(MpQueue, MoreThanTheChannelHoldsInOneProcess) {
  mp::Queue<std::string> q;
  const std::string big(100'000, 'x');
  for (int i = 0; i < 40; ++i) q.put(std::to_string(i) + big);
  for (int i = 0; i < 2000; ++i) q.put(std::to_string(i));
  EXPECT_EQ(q.qsize(), 2040);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(q.get(kLong), std::to_string(i) + big);
  for (int i = 0; i < 2000; ++i) EXPECT_EQ(q.get(kLong), std::to_string(i));
  EXPECT_TRUE(q.empty());
}

TEST(MpQueue, CloseStopsThisProcess) {
  mp::Queue<int> q;
  mp::Queue<int> copy = q;
  EXPECT_THROW(q.join_thread(), concur::ValueError);
  q.put(1);
  q.close();
  EXPECT_THROW(q.put(2), concur::ValueError);
  EXPECT_THROW(copy.put(2), concur::ValueError);
  EXPECT_THROW(q.get_nowait(), concur::ValueError);
  q.join_thread();
  q.close();  // again: nothing
}

TEST(MpQueue, AQueueCannotBeSentAsAValue) {
  mp::Queue<int> q;
  auto [a, b] = mp::Pipe();
  EXPECT_THROW(a.send(q), concur::ValueError);
}

TEST(MpQueue, ItemsCrossToAForkedChildAndBack) {
  mp::Queue<int> to_child;
  mp::Queue<int> to_parent;
  for (int i = 0; i < 10; ++i) to_child.put(i);
  const int status = fork_and_wait([&] {
    int sum = 0;
    for (int i = 0; i < 10; ++i) sum += to_child.get(kLong);
    to_parent.put(sum);
    to_parent.close();
    to_parent.join_thread();
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(to_parent.get(kLong), 45);
  EXPECT_TRUE(to_child.empty());
}

// A forked child starts with an empty buffer: what the parent buffered is written once, by the
// parent.
TEST(MpQueue, AForkedChildDoesNotWriteTheParentsBuffer) {
  mp::Queue<std::string> q;
  const std::string big(200'000, 'y');
  for (int i = 0; i < 20; ++i) q.put(big);  // 4 MB: most of it waits in the buffer
  // The parent reads while the child runs: the child's put waits for the parent's feeder,
  // which waits for room in the channel (as a full pipe would: joining first would deadlock,
  // as in Python).
  // (Under ThreadSanitizer the child cannot start the feeder its put needs while the parent's
  // feeder streams: it only exits, which must not write the parent's buffer either.)
  constexpr bool kChildPuts = concur_test::kChildMayStartThreads;
  const pid_t pid = start_child([&] {
    if (kChildPuts) q.put("child");
    q.close();
    q.join_thread();
    return 0;
  });
  int bigs = 0, child = 0;
  for (int i = 0; i < (kChildPuts ? 21 : 20); ++i) {
    const std::string s = q.get(kLong);
    if (s == big) ++bigs;
    if (s == "child") ++child;
  }
  EXPECT_EQ(wait_for_child(pid, kLong), 0);
  EXPECT_EQ(bigs, 20);
  EXPECT_EQ(child, kChildPuts ? 1 : 0);
  EXPECT_THROW(q.get(50ms), cq::Empty);
}

// Conservation: 3 producer and 2 consumer processes; every item got exactly once.
TEST(MpQueue, ManyProducersAndConsumersConserveItems) {
  constexpr int kProducers = 3, kConsumers = 2, kPer = 2000;
  mp::Queue<int> q(100);
  mp::Queue<std::int64_t> sums;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProducers; ++p) {
    pids.push_back(start_child([&, p] {
      for (int i = 0; i < kPer; ++i) q.put(p * kPer + i + 1, kLong);
      q.close();
      q.join_thread();
      return 0;
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    pids.push_back(start_child([&] {
      std::int64_t sum = 0;
      for (;;) {
        const int v = q.get(kLong);
        if (v == 0) break;
        sum += v;
      }
      sums.put(sum);
      sums.close();
      sums.join_thread();
      return 0;
    }));
  }
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(wait_for_child(pids[p], kLong), 0);
  for (int c = 0; c < kConsumers; ++c) q.put(0);  // one stop mark per consumer
  std::int64_t total = 0;
  for (int c = 0; c < kConsumers; ++c) total += sums.get(kLong);
  for (int c = 0; c < kConsumers; ++c) EXPECT_EQ(wait_for_child(pids[kProducers + c], kLong), 0);
  const std::int64_t n = kProducers * kPer;
  EXPECT_EQ(total, n * (n + 1) / 2);
  EXPECT_EQ(q.qsize(), 0);
}

TEST(MpQueue, ThreadsShareAQueue) {
  mp::Queue<int> q;
  constexpr int kThreads = 4, kPer = 5000;
  std::vector<concur::threading::Thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) q.put(t * kPer + i);
    });
  for (auto& t : producers) t.start();
  std::vector<int> seen(kThreads * kPer, 0);
  std::vector<int> last(kThreads, -1);
  for (int i = 0; i < kThreads * kPer; ++i) {
    const int v = q.get(kLong);
    ++seen[v];
    EXPECT_LT(last[v / kPer], v);  // each producer's items in its order
    last[v / kPer] = v;
  }
  for (auto& t : producers) ASSERT_TRUE(t.join(kLong));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kThreads * kPer);
}

TEST(MpJoinableQueue, TaskDoneAndJoin) {
  mp::JoinableQueue<int> q;
  EXPECT_THROW(q.task_done(), concur::ValueError);
  q.join();  // nothing unfinished
  for (int i = 0; i < 5; ++i) q.put(i);
  const pid_t pid = start_child([&] {
    for (int i = 0; i < 5; ++i) {
      (void)q.get(kLong);
      q.task_done();
    }
    return 0;
  });
  q.join();
  EXPECT_EQ(wait_for_child(pid, kLong), 0);
  EXPECT_THROW(q.task_done(), concur::ValueError);
}

TEST(MpSimpleQueue, PutGetEmpty) {
  mp::SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  q.put("a");
  q.put("b");
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.get(), "a");
  const int status = fork_and_wait([&] {
    CHILD_CHECK(q.get() == "b");
    q.put("from child");
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(q.get(), "from child");
  q.close();
  EXPECT_THROW(q.put("c"), concur::ValueError);
}

// The descriptors and shared objects of a queue travel with it as a process argument (what
// spawn and forkserver do), here through a socketpair to a forked child that gets the handle
// only from the bytes.
TEST(MpQueue, CrossesAsAProcessArgument) {
  mp::JoinableQueue<int> q(4);
  namespace mpd = mp::detail;
  mpd::ByteBuffer bytes;
  mpd::FdTable out;
  mp::serialize_into(bytes, q, &out);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const std::uint64_t size = bytes.size();
  const pid_t pid = start_child([&] {
    ::close(sv[0]);
    std::uint64_t got = 0;
    std::vector<int> fds;
    mpd::recv_with_fds(sv[1], std::as_writable_bytes(std::span(&got, 1)), fds);
    std::vector<std::byte> data(got);
    mpd::recv_with_fds(sv[1], data, fds);
    mpd::FdTable in;
    in.adopt_received(std::move(fds));
    mp::JoinableQueue<int> child_q;
    mp::deserialize_into(data, child_q, &in);
    CHILD_CHECK(child_q.get(kLong) == 41);
    child_q.task_done();
    child_q.put(42);
    child_q.close();
    child_q.join_thread();
    return 0;
  });
  ::close(sv[1]);
  mpd::send_with_fds(sv[0], std::as_bytes(std::span(&size, 1)), out.sending());
  mpd::send_with_fds(sv[0], bytes.view(), {});
  ::close(sv[0]);
  q.put(41);
  EXPECT_EQ(wait_for_child(pid, kLong), 0);
  EXPECT_EQ(q.get(kLong), 42);
  q.task_done();
  q.join();
}

// A writer killed in the middle of a message longer than the channel: the reader gets an
// OSError within a bounded time instead of waiting for the rest forever.
TEST(MpSimpleQueue, AWriterThatDiesWithinAMessageIsAnError) {
  mp::SimpleQueue<std::string> q;
  mp::SimpleQueue<int> started;
  const pid_t pid = start_child([&] {
    started.put(1);
    q.put(std::string(3 << 20, 'z'));  // 3 MiB: blocks once the ring is full
    return 0;
  });
  EXPECT_EQ(started.get(), 1);
  // Once the child is inside its put, the first MiB is there: kill it then.
  ASSERT_TRUE(concur_test::eventually([&] { return !q.empty(); }));
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_for_child(pid, kLong), 128 + SIGKILL);
  EXPECT_THROW((void)q.get(), concur::OSError);
}
