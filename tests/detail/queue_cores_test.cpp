// Unit tests of the lock-free queue cores: queue::detail::SegmentedFifo (unbounded, blocks of
// slots) and queue::detail::BoundedRing (Vyukov's bounded ring), through their core interface
// (queue/detail/core.hpp) only.
//
// SegmentedFifo's block size is private; the tests sweep every item count up to several blocks
// (kBlockSlots, today's 63 slots per block, is only used to name the interesting counts), so
// they cover every boundary whatever the block size. Its spare-block reuse is observed through
// the allocations it makes: blocks are over-aligned (a cache-line-aligned member), so they come
// from the aligned operator new, which this binary replaces to count calls made by the testing
// thread while a test asks it to.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "concur/queue/detail/bounded_ring.hpp"
#include "concur/queue/detail/core.hpp"
#include "concur/queue/detail/segmented_fifo.hpp"
#include "detail_sync.hpp"

namespace {
thread_local bool tls_count_aligned_news = false;
thread_local long tls_aligned_news = 0;
}  // namespace

void* operator new(std::size_t size, std::align_val_t align) {
  if (tls_count_aligned_news) ++tls_aligned_news;
  const auto a = static_cast<std::size_t>(align);
  void* p = std::aligned_alloc(a, (size + a - 1) / a * a);
  if (!p) throw std::bad_alloc();
  return p;
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using concur::queue::detail::BoundedRing;
using concur::queue::detail::PushResult;
using concur::queue::detail::SegmentedFifo;
using namespace concur_detail_test;
using namespace std::chrono_literals;

constexpr int kBlockSlots = 63;  // SegmentedFifo's slots per block today (see the header)

// Counts aligned allocations made by this thread while alive.
class AlignedNewCounter {
 public:
  AlignedNewCounter() {
    tls_aligned_news = 0;
    tls_count_aligned_news = true;
  }
  ~AlignedNewCounter() { tls_count_aligned_news = false; }
  long count() const { return tls_aligned_news; }
};

// An item that counts its live instances (moved-from ones included, until destroyed).
struct Tracked {
  static inline std::atomic<long> live{0};
  int value;
  explicit Tracked(int v) : value(v) { live.fetch_add(1); }
  Tracked(Tracked&& o) noexcept : value(o.value) { live.fetch_add(1); }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { live.fetch_sub(1); }
};

template <class Core, class T>
PushResult push(Core& q, T&& x) {
  std::decay_t<T> tmp(std::forward<T>(x));
  return q.try_push(tmp);
}

template <class Core>
auto pop(Core& q) {
  bool closed = false;
  auto r = q.try_pop(closed);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Producers and consumers on one core: every item exactly once, each producer's items in order.
// Items are producer << 32 | sequence. Bounded by long_wait(): a lost item fails, not hangs.
// ---------------------------------------------------------------------------------------------
template <class Core>
void expect_mpmc_conservation(Core& q, int producers, int consumers, int per_producer) {
  const long total = static_cast<long>(producers) * per_producer;
  std::vector<std::atomic<int>> seen(total);
  std::atomic<long> popped{0};
  std::atomic<bool> order_ok{true}, timed_out{false};
  // Progress is every push and pop: the producers wait for the consumers and the reverse.
  concur_test::StallWatch watch;
  auto stalled = [&] {
    return watch.stalled(q.pushed() + static_cast<std::uint64_t>(popped.load()));
  };
  run_together(producers + consumers, [&](int t) {
    if (t < producers) {
      for (int i = 0; i < per_producer; ++i) {
        std::uint64_t item = (static_cast<std::uint64_t>(t) << 32) | static_cast<std::uint32_t>(i);
        for (;;) {
          const PushResult r = q.try_push(item);
          if (r == PushResult::kDone) break;
          if (r == PushResult::kClosed || stalled()) {
            timed_out = true;
            return;
          }
          std::this_thread::yield();  // full
        }
      }
      return;
    }
    std::vector<long> last(producers, -1);
    while (popped.load() < total) {
      bool closed = false;
      std::optional<std::uint64_t> item = q.try_pop(closed);
      if (!item) {
        if (stalled()) {
          timed_out = true;
          return;
        }
        std::this_thread::yield();
        continue;
      }
      const int p = static_cast<int>(*item >> 32);
      const long i = static_cast<long>(*item & 0xffffffffu);
      if (p >= producers || i >= per_producer) {
        order_ok = false;
        continue;
      }
      if (i <= last[p]) order_ok = false;  // one producer's items come out in push order
      last[p] = i;
      seen[static_cast<long>(p) * per_producer + i].fetch_add(1);
      popped.fetch_add(1);
    }
  });
  EXPECT_FALSE(timed_out.load()) << "no item moved for long_wait(): lost (or the machine stalled)";
  EXPECT_TRUE(order_ok.load());
  EXPECT_EQ(popped.load(), total);
  long wrong = 0;
  for (const auto& s : seen) wrong += (s.load() != 1);
  EXPECT_EQ(wrong, 0) << "items seen other than exactly once";
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.pushed(), static_cast<std::uint64_t>(total));
  bool closed = true;
  EXPECT_FALSE(q.try_pop(closed).has_value());
  EXPECT_FALSE(closed);
}

// Producers push until the core is closed under them; consumers drain. Every push that
// succeeded is popped exactly once; every push after the close fails.
template <class Core>
void expect_close_under_pushes_conserves(Core& q) {
  constexpr int kProducers = 2;
  std::atomic<long> pushed{0}, popped{0};
  Count started;
  std::thread consumer([&] {
    for (;;) {
      bool closed = false;
      auto item = q.try_pop(closed);
      if (item) {
        popped.fetch_add(1);
      } else if (closed) {
        break;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&] {
      started.add();
      for (std::uint64_t i = 0;; ++i) {
        std::uint64_t x = i;
        const PushResult r = q.try_push(x);
        if (r == PushResult::kDone) pushed.fetch_add(1);
        else if (r == PushResult::kClosed) break;
        else std::this_thread::yield();
      }
    });
  ASSERT_TRUE(started.wait_for(kProducers));
  std::this_thread::sleep_for(5ms);  // let pushes flow (no meeting depends on it)
  q.close();
  for (auto& t : producers) t.join();
  consumer.join();
  EXPECT_TRUE(q.closed());
  EXPECT_EQ(pushed.load(), popped.load());
  EXPECT_EQ(q.pushed(), static_cast<std::uint64_t>(pushed.load()));
  std::uint64_t x = 1;
  EXPECT_EQ(q.try_push(x), PushResult::kClosed);
}

// ---------------------------------------------------------------------------------------------
// SegmentedFifo
// ---------------------------------------------------------------------------------------------

TEST(SegmentedFifo, FillThenDrainEveryCountUpToSeveralBlocks) {
  // Counts 0 .. 4 blocks and a bit: exactly one block's worth (63), one more (64), one less,
  // several blocks (126, 127, 189, ...), all of them.
  for (int n = 0; n <= 4 * (kBlockSlots + 1) + 3; ++n) {
    SCOPED_TRACE(n);
    SegmentedFifo<int> q;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(q.push(int{i}));
    ASSERT_EQ(q.size(), static_cast<std::size_t>(n));
    ASSERT_EQ(q.pushed(), static_cast<std::uint64_t>(n));
    for (int i = 0; i < n; ++i) {
      bool closed = true;
      auto x = q.try_pop(closed);
      ASSERT_TRUE(x.has_value());
      ASSERT_EQ(*x, i);
      ASSERT_EQ(q.size(), static_cast<std::size_t>(n - i - 1));
    }
    bool closed = true;
    ASSERT_FALSE(q.try_pop(closed).has_value());
    EXPECT_FALSE(closed);
    // Usable again after the drain, from wherever the head stopped.
    for (int i = 0; i < kBlockSlots + 2; ++i) ASSERT_TRUE(q.push(int{1000 + i}));
    for (int i = 0; i < kBlockSlots + 2; ++i) ASSERT_EQ(*pop(q), 1000 + i);
    ASSERT_FALSE(pop(q).has_value());
  }
}

TEST(SegmentedFifo, InterleavedPushPopKeepsFifoOrder) {
  // Against a std::deque model, with bursts that keep the head and tail a varying distance
  // apart (up to several blocks), so that both cross block boundaries at every offset.
  SegmentedFifo<int> q;
  std::deque<int> model;
  Rng rng(3);
  int next = 0;
  for (int step = 0; step < 4000; ++step) {
    const int pushes = static_cast<int>(rng.below(2 * kBlockSlots));
    const int pops = static_cast<int>(rng.below(2 * kBlockSlots));
    for (int i = 0; i < pushes; ++i) {
      ASSERT_TRUE(q.push(int{next}));
      model.push_back(next++);
    }
    for (int i = 0; i < pops; ++i) {
      auto x = pop(q);
      if (model.empty()) {
        ASSERT_FALSE(x.has_value());
        break;
      }
      ASSERT_TRUE(x.has_value());
      ASSERT_EQ(*x, model.front()) << "step " << step;
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
  }
  while (!model.empty()) {
    ASSERT_EQ(*pop(q), model.front());
    model.pop_front();
  }
  EXPECT_FALSE(pop(q).has_value());
}

TEST(SegmentedFifo, AlternatingFillAndDrainCycles) {
  // Cycles that free blocks and take them back (the spare), of sizes around block multiples.
  SegmentedFifo<int> q;
  int next = 0, expect = 0;
  for (int cycle = 0; cycle < 60; ++cycle) {
    for (int n : {1, kBlockSlots - 1, kBlockSlots, kBlockSlots + 1, 2 * kBlockSlots + 5, 3}) {
      for (int i = 0; i < n; ++i) ASSERT_TRUE(q.push(int{next++}));
      for (int i = 0; i < n; ++i) ASSERT_EQ(*pop(q), expect++);
      ASSERT_FALSE(pop(q).has_value());
    }
  }
}

TEST(SegmentedFifo, SteadyFillDrainReusesTheSpareBlock) {
  // Short cycles: the tail crosses into a new block every dozen cycles or so, and each time the
  // block the consumers emptied last is there as the spare. After a warm-up, no allocation.
  {
    AlignedNewCounter counter;
    SegmentedFifo<int> probe;
    if (counter.count() == 0)
      GTEST_SKIP() << "this build does not route block allocations through the counter";
  }
  SegmentedFifo<int> q;
  int next = 0, expect = 0;
  auto cycle = [&] {
    bool ok = true;
    for (int i = 0; i < 5; ++i) ok &= q.push(int{next++});
    for (int i = 0; i < 5; ++i) {
      auto x = pop(q);
      ok &= x.has_value() && *x == expect++;
    }
    return ok;
  };
  for (int c = 0; c < 200; ++c) ASSERT_TRUE(cycle());  // warm-up: several block switches
  bool ok = true;
  long news = 0;
  {
    AlignedNewCounter counter;
    for (int c = 0; c < 1000; ++c) ok &= cycle();  // ~80 block switches with 63-slot blocks
    news = counter.count();
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(news, 0) << "block switches allocated although a spare block was free";

  // Draining several blocks frees them all but the spare; filling again allocates at most as
  // many blocks as the fill needs, less the spare.
  for (int i = 0; i < 5 * kBlockSlots; ++i) ASSERT_TRUE(q.push(int{next++}));
  for (int i = 0; i < 5 * kBlockSlots; ++i) ASSERT_EQ(*pop(q), expect++);
  {
    AlignedNewCounter counter;
    for (int i = 0; i < 3 * kBlockSlots; ++i) ok &= q.push(int{next++});
    news = counter.count();
  }
  EXPECT_TRUE(ok);
  EXPECT_LE(news, 3) << "the spare was not used";
  for (int i = 0; i < 3 * kBlockSlots; ++i) ASSERT_EQ(*pop(q), expect++);
}

TEST(SegmentedFifo, MoveOnlyItems) {
  SegmentedFifo<std::unique_ptr<int>> q;
  for (int i = 0; i < 3 * kBlockSlots; ++i) ASSERT_TRUE(q.push(std::make_unique<int>(i)));
  for (int i = 0; i < 3 * kBlockSlots; ++i) {
    auto x = pop(q);
    ASSERT_TRUE(x.has_value());
    ASSERT_NE(*x, nullptr);
    EXPECT_EQ(**x, i);
  }
  // try_push moves only on success; after close() the item stays with the caller.
  auto p = std::make_unique<int>(7);
  EXPECT_EQ(q.try_push(p), PushResult::kDone);
  EXPECT_EQ(p, nullptr);
  q.close();
  p = std::make_unique<int>(8);
  EXPECT_EQ(q.try_push(p), PushResult::kClosed);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 8);
  EXPECT_FALSE(q.push(std::move(p)));
  ASSERT_NE(p, nullptr);  // push(T&&) leaves x untouched when it fails
  EXPECT_EQ(**pop(q), 7);
}

TEST(SegmentedFifo, DestructorDestroysItemsLeftAcrossBlocks) {
  ASSERT_EQ(Tracked::live.load(), 0);
  for (int popped : {0, 1, kBlockSlots - 1, kBlockSlots, kBlockSlots + 1, 2 * kBlockSlots}) {
    SCOPED_TRACE(popped);
    {
      SegmentedFifo<Tracked> q;
      for (int i = 0; i < 3 * kBlockSlots + 7; ++i) ASSERT_TRUE(q.push(Tracked(i)));
      for (int i = 0; i < popped; ++i) ASSERT_EQ(pop(q)->value, i);
      EXPECT_EQ(Tracked::live.load(), 3 * kBlockSlots + 7 - popped);
    }
    EXPECT_EQ(Tracked::live.load(), 0);
  }
}

TEST(SegmentedFifo, CloseStopsPushesAndKeepsItems) {
  SegmentedFifo<int> q;
  EXPECT_FALSE(q.closed());
  for (int i = 0; i < kBlockSlots + 3; ++i) ASSERT_TRUE(q.push(int{i}));
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_FALSE(q.push(1));
  int x = 5;
  EXPECT_EQ(q.try_push(x), PushResult::kClosed);
  EXPECT_EQ(q.pushed(), static_cast<std::uint64_t>(kBlockSlots + 3));
  for (int i = 0; i < kBlockSlots + 3; ++i) {
    bool closed = false;
    auto v = q.try_pop(closed);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, i);
  }
  bool closed = false;
  EXPECT_FALSE(q.try_pop(closed).has_value());
  EXPECT_TRUE(closed);
  q.close();  // twice: harmless
  EXPECT_TRUE(q.closed());
}

TEST(SegmentedFifo, CloseAtABlockBoundary) {
  // Closed with the tail exactly at a block's end: the last slot's producer installed the next
  // block (its fetch_add must keep the closed bit).
  SegmentedFifo<int> q;
  for (int i = 0; i < kBlockSlots; ++i) ASSERT_TRUE(q.push(int{i}));
  q.close();
  EXPECT_FALSE(q.push(99));
  EXPECT_EQ(q.size(), static_cast<std::size_t>(kBlockSlots));
  for (int i = 0; i < kBlockSlots; ++i) ASSERT_EQ(*pop(q), i);
  bool closed = false;
  EXPECT_FALSE(q.try_pop(closed).has_value());
  EXPECT_TRUE(closed);
}

TEST(SegmentedFifo, ProducersAndConsumersConserveItems) {
  SegmentedFifo<std::uint64_t> q;
  expect_mpmc_conservation(q, 3, 3, 40000 / CONCUR_TEST_TIME_SCALE);
}

TEST(SegmentedFifo, CloseUnderConcurrentPushesConserves) {
  SegmentedFifo<std::uint64_t> q;
  expect_close_under_pushes_conserves(q);
}

// Small blocks (an actor's mailbox uses 16 positions; 2 is the smallest: one item a block), where
// producers and consumers cross block ends all the time.
TEST(SegmentedFifo, SmallBlocksKeepFifoOrderAcrossManySwitches) {
  SegmentedFifo<int, 2> tiny;
  SegmentedFifo<int, 16> mailbox_sized;
  for (int n : {1, 2, 3, 15, 16, 17, 100}) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(tiny.push(int{i}));
      ASSERT_TRUE(mailbox_sized.push(int{i}));
    }
    EXPECT_EQ(tiny.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(mailbox_sized.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(*pop(tiny), i);
      ASSERT_EQ(*pop(mailbox_sized), i);
    }
    EXPECT_FALSE(pop(tiny).has_value());
    EXPECT_FALSE(pop(mailbox_sized).has_value());
  }
}

TEST(SegmentedFifo, SmallBlocksConserveItemsAndClose) {
  {
    SegmentedFifo<std::uint64_t, 2> q;
    expect_mpmc_conservation(q, 3, 3, 20000 / CONCUR_TEST_TIME_SCALE);
  }
  {
    SegmentedFifo<std::uint64_t, 16> q;
    expect_mpmc_conservation(q, 3, 1, 20000 / CONCUR_TEST_TIME_SCALE);
  }
  SegmentedFifo<std::uint64_t, 2> q;
  expect_close_under_pushes_conserves(q);
}

// ---------------------------------------------------------------------------------------------
// BoundedRing, at capacities 2 (a power of two: the mask path), 3 (the modulo path), and 4, 5.
// ---------------------------------------------------------------------------------------------

class BoundedRingTest : public testing::TestWithParam<int> {};

TEST_P(BoundedRingTest, FullAndEmptyEdges) {
  const int cap = GetParam();
  BoundedRing<int> q(static_cast<std::size_t>(cap));
  EXPECT_EQ(q.capacity(), static_cast<std::size_t>(cap));
  EXPECT_EQ(q.size(), 0u);
  bool closed = true;
  EXPECT_FALSE(q.try_pop(closed).has_value());  // empty
  EXPECT_FALSE(closed);
  for (int i = 0; i < cap; ++i) EXPECT_EQ(push(q, i), PushResult::kDone);
  EXPECT_EQ(q.size(), static_cast<std::size_t>(cap));
  int x = 100;
  EXPECT_EQ(q.try_push(x), PushResult::kFull);
  EXPECT_EQ(q.try_push(x), PushResult::kFull);  // still full, nothing changed
  EXPECT_EQ(q.pushed(), static_cast<std::uint64_t>(cap));
  EXPECT_EQ(*pop(q), 0);
  EXPECT_EQ(q.try_push(x), PushResult::kDone);  // one free cell again
  EXPECT_EQ(q.try_push(x), PushResult::kFull);
  for (int i = 1; i < cap; ++i) EXPECT_EQ(*pop(q), i);
  EXPECT_EQ(*pop(q), 100);
  EXPECT_FALSE(pop(q).has_value());
  EXPECT_EQ(q.size(), 0u);
}

TEST_P(BoundedRingTest, WrapsAroundManyTimes) {
  const int cap = GetParam();
  BoundedRing<int> q(static_cast<std::size_t>(cap));
  int next = 0, expect = 0;
  // Fill and drain completely, and also keep it at every fill level in between, so that the
  // positions wrap (modulo cap) thousands of times with the ring in every state.
  for (int round = 0; round < 3000; ++round) {
    const int level = round % (cap + 1);
    for (int i = 0; i < level; ++i) ASSERT_EQ(push(q, next++), PushResult::kDone);
    if (level == cap) {
      int x = -1;
      ASSERT_EQ(q.try_push(x), PushResult::kFull);
    }
    ASSERT_EQ(q.size(), static_cast<std::size_t>(level));
    for (int i = 0; i < level; ++i) ASSERT_EQ(*pop(q), expect++);
    ASSERT_FALSE(pop(q).has_value());
  }
  // A model-checked random walk.
  std::deque<int> model;
  Rng rng(cap);
  for (int step = 0; step < 20000; ++step) {
    if (rng.below(2) == 0) {
      int x = next;
      const PushResult r = q.try_push(x);
      if (static_cast<int>(model.size()) == cap) {
        ASSERT_EQ(r, PushResult::kFull);
      } else {
        ASSERT_EQ(r, PushResult::kDone);
        model.push_back(next++);
      }
    } else {
      auto v = pop(q);
      if (model.empty()) {
        ASSERT_FALSE(v.has_value());
      } else {
        ASSERT_TRUE(v.has_value());
        ASSERT_EQ(*v, model.front()) << "step " << step;
        model.pop_front();
      }
    }
  }
}

TEST_P(BoundedRingTest, TryPushOnFullLeavesAMoveOnlyItemUntouched) {
  const int cap = GetParam();
  BoundedRing<std::unique_ptr<int>> q(static_cast<std::size_t>(cap));
  for (int i = 0; i < cap; ++i) {
    auto p = std::make_unique<int>(i);
    ASSERT_EQ(q.try_push(p), PushResult::kDone);
    EXPECT_EQ(p, nullptr);
  }
  auto p = std::make_unique<int>(42);
  EXPECT_EQ(q.try_push(p), PushResult::kFull);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
  q.close();
  EXPECT_EQ(q.try_push(p), PushResult::kClosed);
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < cap; ++i) EXPECT_EQ(**pop(q), i);
  bool closed = false;
  EXPECT_FALSE(q.try_pop(closed).has_value());
  EXPECT_TRUE(closed);
}

TEST_P(BoundedRingTest, CloseOnAnEmptyAndOnAFullRing) {
  const int cap = GetParam();
  {
    BoundedRing<int> q(static_cast<std::size_t>(cap));
    q.close();
    EXPECT_TRUE(q.closed());
    EXPECT_EQ(push(q, 1), PushResult::kClosed);
    bool closed = false;
    EXPECT_FALSE(q.try_pop(closed).has_value());
    EXPECT_TRUE(closed);
  }
  {
    BoundedRing<int> q(static_cast<std::size_t>(cap));
    for (int i = 0; i < cap; ++i) ASSERT_EQ(push(q, i), PushResult::kDone);
    q.close();
    EXPECT_EQ(push(q, 1), PushResult::kClosed);  // closed wins over full
    EXPECT_EQ(q.size(), static_cast<std::size_t>(cap));
    for (int i = 0; i < cap; ++i) {
      bool closed = false;
      ASSERT_EQ(*q.try_pop(closed), i);
    }
    bool closed = false;
    EXPECT_FALSE(q.try_pop(closed).has_value());
    EXPECT_TRUE(closed);
  }
}

TEST_P(BoundedRingTest, DestructorDestroysItemsLeftAfterWrapping) {
  const int cap = GetParam();
  ASSERT_EQ(Tracked::live.load(), 0);
  for (int shift = 0; shift < 2 * cap; ++shift) {
    for (int left = 0; left <= cap; ++left) {
      {
        BoundedRing<Tracked> q(static_cast<std::size_t>(cap));
        for (int i = 0; i < shift; ++i) {  // move the positions around the ring
          ASSERT_EQ(push(q, Tracked(i)), PushResult::kDone);
          ASSERT_TRUE(pop(q).has_value());
        }
        for (int i = 0; i < left; ++i) ASSERT_EQ(push(q, Tracked(i)), PushResult::kDone);
        ASSERT_EQ(Tracked::live.load(), left);
      }
      ASSERT_EQ(Tracked::live.load(), 0) << "shift " << shift << ", left " << left;
    }
  }
}

TEST_P(BoundedRingTest, ProducersAndConsumersConserveItems) {
  BoundedRing<std::uint64_t> q(static_cast<std::size_t>(GetParam()));
  expect_mpmc_conservation(q, 2, 2, 20000 / CONCUR_TEST_TIME_SCALE);
}

TEST_P(BoundedRingTest, ManyProducersOneConsumerAndTheReverse) {
  {
    BoundedRing<std::uint64_t> q(static_cast<std::size_t>(GetParam()));
    expect_mpmc_conservation(q, 3, 1, 10000 / CONCUR_TEST_TIME_SCALE);
  }
  {
    BoundedRing<std::uint64_t> q(static_cast<std::size_t>(GetParam()));
    expect_mpmc_conservation(q, 1, 3, 20000 / CONCUR_TEST_TIME_SCALE);
  }
}

TEST_P(BoundedRingTest, CloseUnderConcurrentPushesConserves) {
  BoundedRing<std::uint64_t> q(static_cast<std::size_t>(GetParam()));
  expect_close_under_pushes_conserves(q);
}

INSTANTIATE_TEST_SUITE_P(Capacities, BoundedRingTest, testing::Values(2, 3, 4, 5),
                         [](const testing::TestParamInfo<int>& info) {
                           return "capacity" + std::to_string(info.param);
                         });

}  // namespace
