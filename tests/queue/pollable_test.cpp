// PollableQueue<T>: a Queue<T> whose fileno() poll()/select()/epoll report readable (POLLIN)
// exactly while the queue holds an item — level-triggered: polling does not consume readiness,
// and it stays readable until the last item is taken. Several queues and a socket in one epoll
// set; a consumer blocked in poll() woken by a put from another thread; consumers driven by
// poll() sharing one queue (readiness is a hint there: try_get may lose the race).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>
#include <type_traits>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

namespace cq = concur::queue;
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, ...

int long_wait_ms() { return static_cast<int>(long_wait().count()); }

// Whether fd polls readable now (timeout 0: never waits).
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  EXPECT_GE(n, 0) << "poll failed, errno " << errno;
  EXPECT_EQ(p.revents & (POLLERR | POLLNVAL), 0);
  return n == 1 && (p.revents & POLLIN);
}

bool select_readable(int fd) {
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd, &set);
  timeval tv{0, 0};
  const int n = ::select(fd + 1, &set, nullptr, nullptr, &tv);
  EXPECT_GE(n, 0);
  return n == 1 && FD_ISSET(fd, &set);
}

// Ready epoll tags (data.u32) after waiting up to timeout_ms.
std::set<unsigned> epoll_ready(int epfd, int timeout_ms = 0) {
  epoll_event events[8];
  const int n = ::epoll_wait(epfd, events, 8, timeout_ms);
  EXPECT_GE(n, 0) << "epoll_wait failed, errno " << errno;
  std::set<unsigned> tags;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(events[i].events & EPOLLIN);
    tags.insert(events[i].data.u32);
  }
  return tags;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

TEST(PollableQueue, FilenoIsAnOpenDescriptorOfItsOwn) {
  int fd_a = -1;
  {
    cq::PollableQueue<int> a, b(3);
    static_assert(std::is_same_v<decltype(a.fileno()), int>);
    const auto& ca = a;
    fd_a = ca.fileno();
    EXPECT_GE(fd_a, 0);
    EXPECT_GE(b.fileno(), 0);
    EXPECT_NE(a.fileno(), b.fileno());
    EXPECT_EQ(a.fileno(), fd_a) << "fileno() changed";
    EXPECT_NE(::fcntl(fd_a, F_GETFD), -1);
    a.put(1);
    (void)a.get();
    EXPECT_EQ(a.fileno(), fd_a) << "fileno() changed";
  }
  // Closed with the queue (nothing else in this process opens descriptors meanwhile).
  errno = 0;
  EXPECT_EQ(::fcntl(fd_a, F_GETFD), -1) << "the queue's descriptor outlived it";
  EXPECT_EQ(errno, EBADF);
}

TEST(PollableQueue, ReadableExactlyWhileItHoldsAnItem) {
  cq::PollableQueue<int> q;
  const int fd = q.fileno();
  EXPECT_FALSE(readable(fd));
  q.put(1);
  EXPECT_TRUE(readable(fd));
  EXPECT_TRUE(readable(fd)) << "polling consumed the readiness (must be level-triggered)";
  EXPECT_TRUE(select_readable(fd));
  q.put(2);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get(), 1);
  EXPECT_TRUE(readable(fd)) << "not readable with 1 item left after a get";
  EXPECT_TRUE(select_readable(fd));
  EXPECT_EQ(q.get(), 2);
  EXPECT_FALSE(readable(fd)) << "readable after the last item was taken";
  EXPECT_FALSE(select_readable(fd));
  // Failed gets on the empty queue leave it unreadable; a failed put on a full one readable.
  EXPECT_THROW((void)q.get_nowait(), cq::Empty);
  EXPECT_EQ(q.try_get(1ms), std::nullopt);
  EXPECT_FALSE(readable(fd));
  cq::PollableQueue<int> bounded(1);
  bounded.put(5);
  EXPECT_FALSE(bounded.try_put(6));
  EXPECT_THROW(bounded.put(6, 1ms), cq::Full);
  EXPECT_TRUE(readable(bounded.fileno()));
  EXPECT_EQ(bounded.get(), 5);
  EXPECT_FALSE(readable(bounded.fileno()));
}

TEST(PollableQueue, EveryFormKeepsReadinessInStep) {
  cq::PollableQueue<int> q(8);
  const int fd = q.fileno();
  // Each put form makes it readable; each get form that empties it makes it unreadable.
  q.put(1);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get(false), 1);
  EXPECT_FALSE(readable(fd));
  q.put(2, false);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_FALSE(readable(fd));
  q.put_nowait(3);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get(true, 10ms), 3);
  EXPECT_FALSE(readable(fd));
  q.put(4, true, 10ms);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get(10ms), 4);
  EXPECT_FALSE(readable(fd));
  q.put(5, 10ms);
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.try_get(), 5);
  EXPECT_FALSE(readable(fd));
  EXPECT_TRUE(q.try_put(6));
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.try_get(10ms), 6);
  EXPECT_FALSE(readable(fd));
  EXPECT_TRUE(q.try_put(7, 10ms));
  EXPECT_TRUE(readable(fd));
  EXPECT_EQ(q.get(), 7);
  EXPECT_FALSE(readable(fd));
  // Many in, many out: readable until the very last.
  for (int i = 0; i < 8; ++i) q.put(i);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(readable(fd)) << "with " << 8 - i << " items";
    (void)q.get();
  }
  EXPECT_FALSE(readable(fd));
}

TEST(PollableQueue, ShutdownKeepsReadinessInStep) {
  cq::PollableQueue<int> q;
  const int fd = q.fileno();
  q.put(1);
  q.put(2);
  q.shutdown();  // items kept: still readable, until drained
  EXPECT_TRUE(readable(fd));
  (void)q.get();
  (void)q.get();
  EXPECT_FALSE(readable(fd)) << "readable once drained after shutdown()";
  cq::PollableQueue<int> r;
  r.put(1);
  r.shutdown(true);  // items discarded: the queue is empty
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(readable(r.fileno())) << "readable after shutdown(true) emptied the queue";
}

TEST(PollableQueue, EpollOnSeveralQueuesAndASocket) {
  cq::PollableQueue<int> q0, q1, q2(2);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd sock_a(sv[0]), sock_b(sv[1]);
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_GE(ep.get(), 0);
  constexpr unsigned kSocket = 99;
  auto add = [&](int fd, unsigned tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered
    ev.data.u32 = tag;
    ASSERT_EQ(::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev), 0) << "errno " << errno;
  };
  add(q0.fileno(), 0);
  add(q1.fileno(), 1);
  add(q2.fileno(), 2);
  add(sock_b.get(), kSocket);
  EXPECT_EQ(epoll_ready(ep.get()), std::set<unsigned>{});
  q1.put(10);
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{1}));
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{1})) << "level-triggered: still ready";
  const char byte = 'x';
  ASSERT_EQ(::write(sock_a.get(), &byte, 1), 1);
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{1, kSocket}));
  EXPECT_EQ(q1.get(), 10);
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{kSocket}));
  char in = 0;
  ASSERT_EQ(::read(sock_b.get(), &in, 1), 1);
  EXPECT_EQ(epoll_ready(ep.get()), std::set<unsigned>{});
  q0.put(1);
  q2.put(2);
  q2.put(3);
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{0, 2}));
  EXPECT_EQ(q2.get(), 2);
  EXPECT_EQ(epoll_ready(ep.get()), (std::set<unsigned>{0, 2}));
  EXPECT_EQ(q2.get(), 3);
  EXPECT_EQ(q0.get(), 1);
  EXPECT_EQ(epoll_ready(ep.get()), std::set<unsigned>{});

  // A thread blocked in epoll_wait is woken by a put from another thread.
  std::atomic<bool> entered{false};
  std::set<unsigned> woke_for;
  std::jthread waiter([&] {
    entered = true;
    woke_for = epoll_ready(ep.get(), long_wait_ms());
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  std::jthread([&] { q2.put(7); }).join();
  waiter.join();
  EXPECT_EQ(woke_for, (std::set<unsigned>{2}));
  EXPECT_EQ(q2.get_nowait(), 7);
}

TEST(PollableQueue, PollWakesAConsumerThread) {
  cq::PollableQueue<int> q;
  std::atomic<bool> entered{false};
  int poll_result = -2;
  short revents = 0;
  std::optional<int> got;
  std::jthread consumer([&] {
    pollfd p{q.fileno(), POLLIN, 0};
    entered = true;
    poll_result = ::poll(&p, 1, long_wait_ms());
    revents = p.revents;
    got = q.try_get();
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  give_time_to_misbehave();
  std::jthread producer([&] { q.put(42); });
  producer.join();
  consumer.join();
  EXPECT_EQ(poll_result, 1);
  EXPECT_TRUE(revents & POLLIN);
  EXPECT_EQ(got, 42);
  EXPECT_FALSE(readable(q.fileno()));
}

TEST(PollableQueue, PollDrivenConsumersGetEveryItemOnce) {
  // Consumers wait in poll() and take with try_get(), which may lose to another consumer;
  // producers put with every form. Every item arrives exactly once; at the end the queue is
  // empty and its descriptor unreadable.
  constexpr int kProducers = 2, kConsumers = 3;
  const int per_producer = 20'000 / CONCUR_TEST_TIME_SCALE;
  const int total = kProducers * per_producer;
  cq::PollableQueue<int> q(16);
  std::vector<std::atomic<int>> seen(total);
  std::atomic<int> consumed{0}, lost_races{0};
  concur_test::StallWatch watch;  // progress: items consumed
  auto stalled = [&] { return watch.stalled(static_cast<std::uint64_t>(consumed.load())); };
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < kConsumers; ++c)
      threads.emplace_back([&] {
        pollfd p{q.fileno(), POLLIN, 0};
        while (consumed.load() < total && !stalled()) {
          p.revents = 0;
          if (::poll(&p, 1, 5) <= 0) continue;  // short: the last item may go to another
          if (auto v = q.try_get()) {
            seen[*v].fetch_add(1);
            consumed.fetch_add(1);
          } else {
            lost_races.fetch_add(1);
          }
        }
      });
    for (int p = 0; p < kProducers; ++p)
      threads.emplace_back([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          const int v = p * per_producer + i;
          bool put = false;
          while (!put && !stalled()) {
            switch (i % 3) {
              case 0: put = q.try_put(v, long_wait()); break;
              case 1: put = q.try_put(v); break;
              default:
                try {
                  q.put(v, 1ms);
                  put = true;
                } catch (const cq::Full&) {
                }
            }
          }
          if (!put) {
            ADD_FAILURE() << "a producer could not put while nothing was consumed for long_wait()";
            return;
          }
        }
      });
  }
  EXPECT_EQ(consumed.load(), total);
  for (int i = 0; i < total; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(readable(q.fileno()));
  q.put(1);
  EXPECT_TRUE(readable(q.fileno()));
}

TEST(PollableQueue, ReadinessSettlesAfterConcurrentTraffic) {
  // Racing puts and gets, then quiet: readable exactly when an item is left.
  cq::PollableQueue<int> q;
  for (int round = 0; round < 20; ++round) {
    run_parallel(4, [&](int t) {
      for (int i = 0; i < 500; ++i) {
        if ((i + t) % 2 == 0)
          q.put(i);
        else
          (void)q.try_get();
      }
    });
    EXPECT_EQ(readable(q.fileno()), !q.empty()) << "round " << round << ", qsize " << q.qsize();
    while (q.try_get()) {
    }
    EXPECT_FALSE(readable(q.fileno()));
  }
}

}  // namespace
