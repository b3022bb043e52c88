// Stress tests for every queue kind: many producers and consumers, bounded (maxsize 1, 2, 7, 64)
// and unbounded, every put and get form in the mix (timed ones with timeouts short enough that
// many expire and are retried), then conservation: every item got exactly once, none invented;
// FIFO kinds also keep each producer's order as each consumer sees it; a bounded queue never
// reports more than maxsize items. With shutdown in the mix (plain and immediate), every item
// whose put succeeded is got exactly once or (immediate only) discarded — destroyed inside the
// queue — exactly once, a put that failed leaves its item with the producer, and join() returns.
// Nothing here asserts on speed; item counts shrink by CONCUR_TEST_TIME_SCALE in slow builds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <functional>
#include <latch>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/queue.hpp"
#include "queue_kinds.hpp"
#include "test_support.hpp"

namespace {

constexpr int kScale = CONCUR_TEST_TIME_SCALE;
using dsec = std::chrono::duration<double>;

// Some work outside the queue, `units` of a few nanoseconds each.
void busy_work(int units) {
  volatile int sink = 0;
  for (int k = 0; k < units * 20; ++k) sink = k;
  (void)sink;
}

enum class KindId { Fifo, Lifo, Priority, Pollable, Simple };

const char* kind_name(KindId k) {
  switch (k) {
    case KindId::Fifo: return FifoTag::name;
    case KindId::Lifo: return LifoTag::name;
    case KindId::Priority: return PriorityTag::name;
    case KindId::Pollable: return PollableTag::name;
    case KindId::Simple: return SimpleTag::name;
  }
  return "?";
}

// Calls f(Tag{}) for the kind.
template <class F>
void with_kind(KindId k, F&& f) {
  switch (k) {
    case KindId::Fifo: f(FifoTag{}); break;
    case KindId::Lifo: f(LifoTag{}); break;
    case KindId::Priority: f(PriorityTag{}); break;
    case KindId::Pollable: f(PollableTag{}); break;
    case KindId::Simple: f(SimpleTag{}); break;
  }
}

// Short timeouts that often expire under contention (zero and fractional ones included).
template <class F>
decltype(auto) with_short_timeout(unsigned i, F&& f) {
  switch (i % 4) {
    case 0: return f(0ms);
    case 1: return f(std::chrono::microseconds(100));
    case 2: return f(1ms);
    default: return f(dsec(0.0005));
  }
}

// --- conservation ---------------------------------------------------------------------------------

struct Config {
  KindId kind;
  long maxsize;
};

void PrintTo(const Config& c, std::ostream* os) {
  *os << kind_name(c.kind) << "(maxsize " << c.maxsize << ")";
}

std::string config_name(const ::testing::TestParamInfo<Config>& info) {
  return std::string(kind_name(info.param.kind)) + "_" +
         (info.param.maxsize > 0 ? "max" + std::to_string(info.param.maxsize) : "unbounded");
}

// A queue of kind Tag over int, bounded by maxsize where the kind has one (SimpleQueue has not).
template <class Tag>
std::unique_ptr<typename Tag::template queue<int>> make_queue(long maxsize) {
  using Q = typename Tag::template queue<int>;
  if constexpr (Tag::full_interface)
    return std::make_unique<Q>(maxsize);
  else
    return std::make_unique<Q>();
}

// One producer's put of v through form `form`; retries the forms that may fail (Full, or a
// timeout) until it succeeds or no put has succeeded anywhere for long_wait(). Returns success.
template <class Tag, class Q>
bool put_one(Q& q, int v, unsigned form, const std::atomic<long>& progress_ms) {
  const auto stalled = [&] {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         Clock::now().time_since_epoch())
                         .count();
    return now - progress_ms.load(std::memory_order_relaxed) > long_wait().count();
  };
  if constexpr (!Tag::full_interface) {  // SimpleQueue: unbounded, every put succeeds at once
    switch (form % 4) {
      case 0: q.put(v); break;
      case 1: q.put(v, false); break;
      case 2: q.put_nowait(v); break;
      default: q.put(v, true, 1ms); break;
    }
    return true;
  } else {
    for (unsigned attempt = 0;; ++attempt) {
      try {
        switch (form % 6) {
          case 0: q.put(v, long_wait()); return true;
          case 1: with_short_timeout(attempt + form, [&](auto t) { q.put(v, true, t); }); return true;
          case 2:
            if (q.try_put(v)) return true;
            std::this_thread::yield();
            break;
          case 3:
            q.put_nowait(v);
            return true;
          case 4:
            if (with_short_timeout(attempt + form, [&](auto t) { return q.try_put(v, t); }))
              return true;
            break;
          default:
            q.put(v, false);
            return true;
        }
      } catch (const cq::Full&) {
        if (form % 6 == 0) return false;  // long_wait() without room
        std::this_thread::yield();
      }
      if (stalled()) return false;
    }
  }
}

// One consumer's get through form `form`: an item, or nullopt when this form found nothing
// (Empty, a timeout, nullopt).
template <class Q>
std::optional<int> get_one(Q& q, unsigned form) {
  try {
    switch (form % 9) {
      case 0: return q.get(long_wait());
      case 1: return q.get(true, long_wait());
      case 2: return q.try_get(long_wait());
      case 3: return with_short_timeout(form / 9, [&](auto t) { return q.get(t); });
      case 4: return with_short_timeout(form / 9, [&](auto t) { return q.try_get(t); });
      case 5: return q.get_nowait();
      case 6: return q.get(false);
      case 7: return q.try_get();
      default: return with_short_timeout(form / 9, [&](auto t) { return q.get(true, t); });
    }
  } catch (const cq::Empty&) {
    return std::nullopt;
  }
}

long now_ms() {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
}

template <class Tag>
void run_conservation(long maxsize) {
  constexpr int kProducers = 4, kConsumers = 4;
  const int per_producer = 25'000 / kScale;
  const int total = kProducers * per_producer;
  // Consumers stop at a sentinel: put after every item, and ordered after every item by FIFO
  // and priority kinds. A LIFO queue hands them out first, so the main thread drains the rest.
  const int sentinel = Tag::order == Order::Smallest ? INT_MAX : -1;

  const auto qp = make_queue<Tag>(maxsize);
  auto& q = *qp;

  std::vector<std::atomic<int>> seen(total);
  std::atomic<long> progress_ms{now_ms()};
  std::atomic<int> put_failures{0}, order_violations{0}, over_maxsize{0}, invented{0};
  std::atomic<int> consumed{0}, sentinels_got{0}, stalled_consumers{0};

  auto record = [&](int v, std::vector<int>& last_by_producer) {
    if (v < 0 || v >= total) {
      invented++;
      return;
    }
    seen[v].fetch_add(1, std::memory_order_relaxed);
    consumed.fetch_add(1, std::memory_order_relaxed);
    const int p = v / per_producer;
    if (Tag::order == Order::Fifo) {
      if (v <= last_by_producer[p]) order_violations++;
      last_by_producer[p] = v;
    }
    if constexpr (Tag::full_interface) q.task_done();
  };

  std::atomic<int> producers_left{kProducers};
  run_together(kProducers + kConsumers, [&](int t) {
    if (t < kProducers) {
      const int p = t;
      for (int i = 0; i < per_producer; ++i) {
        // Unbounded, producers would outrun the consumers and no get would ever wait: a little
        // work between puts lets the queue run empty now and then.
        if (maxsize <= 0) busy_work((i * 7 + p) % 16);
        if (!put_one<Tag>(q, p * per_producer + i, static_cast<unsigned>(i + p), progress_ms)) {
          put_failures++;
          break;
        }
        progress_ms.store(now_ms(), std::memory_order_relaxed);
      }
      // The last producer done puts the sentinels, one per consumer.
      if (producers_left.fetch_sub(1) == 1)
        for (int c = 0; c < kConsumers; ++c) q.put(sentinel, long_wait());
      return;
    }
    const int c = t - kProducers;
    std::vector<int> last_by_producer(kProducers, -1);
    for (unsigned n = static_cast<unsigned>(c);; ++n) {
      // Consumers 0 and 1 favour the long, blocking forms; 2 and 3 the short and non-blocking.
      const unsigned form = c < 2 ? (n % 3) : 3 + (n % 6);
      auto v = get_one(q, form + 9 * (n / 7));
      if (!v) {
        if (now_ms() - progress_ms.load(std::memory_order_relaxed) > long_wait().count()) {
          stalled_consumers++;
          return;
        }
        std::this_thread::yield();
        continue;
      }
      progress_ms.store(now_ms(), std::memory_order_relaxed);
      if constexpr (Tag::full_interface) {
        if (maxsize > 0 && (n % 16) == 0 && q.qsize() > static_cast<std::size_t>(maxsize))
          over_maxsize++;
      }
      if (*v == sentinel) {
        sentinels_got++;
        if constexpr (Tag::full_interface) q.task_done();
        return;
      }
      record(*v, last_by_producer);
    }
  });
  // What the consumers left (a LIFO queue's sentinels come first): drained here.
  std::vector<int> last_by_producer(kProducers, -1);
  while (auto v = q.try_get()) {
    if (*v == sentinel) {
      ADD_FAILURE() << "a sentinel left over";
      if constexpr (Tag::full_interface) q.task_done();
      continue;
    }
    if (Tag::order == Order::Fifo) ADD_FAILURE() << "a FIFO queue kept " << *v << " behind a sentinel";
    record(*v, last_by_producer);
  }

  EXPECT_EQ(put_failures.load(), 0) << "puts that found no room for long_wait()";
  EXPECT_EQ(stalled_consumers.load(), 0) << "consumers that got nothing for long_wait()";
  EXPECT_EQ(invented.load(), 0) << "items that were never put";
  EXPECT_EQ(sentinels_got.load(), kConsumers);
  EXPECT_EQ(consumed.load(), total);
  int missing = 0, duplicated = 0;
  for (int i = 0; i < total; ++i) {
    const int s = seen[i].load();
    if (s == 0) missing++;
    if (s > 1) duplicated++;
  }
  EXPECT_EQ(missing, 0) << "items lost";
  EXPECT_EQ(duplicated, 0) << "items delivered more than once";
  EXPECT_EQ(order_violations.load(), 0) << "a consumer saw a producer's items out of order";
  EXPECT_EQ(over_maxsize.load(), 0) << "qsize() above maxsize";
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  if constexpr (Tag::full_interface) {
    q.join();  // every item and sentinel was marked done
    EXPECT_THROW(q.task_done(), concur::ValueError);
    EXPECT_FALSE(q.full());
  }
}

class Conservation : public ::testing::TestWithParam<Config> {};

TEST_P(Conservation, EveryItemExactlyOnce) {
  const Config c = GetParam();
  with_kind(c.kind, [&](auto tag) { run_conservation<decltype(tag)>(c.maxsize); });
}

std::vector<Config> conservation_configs() {
  std::vector<Config> configs;
  for (KindId k : {KindId::Fifo, KindId::Lifo, KindId::Priority, KindId::Pollable})
    for (long maxsize : {1L, 2L, 7L, 64L, 0L}) configs.push_back({k, maxsize});
  configs.push_back({KindId::Simple, 0});
  return configs;
}

INSTANTIATE_TEST_SUITE_P(Stress, Conservation, ::testing::ValuesIn(conservation_configs()),
                         config_name);

// --- shutdown in the mix ------------------------------------------------------------------------

struct ShutdownConfig {
  KindId kind;
  long maxsize;
  bool immediate;
};

void PrintTo(const ShutdownConfig& c, std::ostream* os) {
  *os << kind_name(c.kind) << "(maxsize " << c.maxsize << "), shutdown("
      << (c.immediate ? "true" : "false") << ")";
}

std::string shutdown_config_name(const ::testing::TestParamInfo<ShutdownConfig>& info) {
  return std::string(kind_name(info.param.kind)) + "_" +
         (info.param.maxsize > 0 ? "max" + std::to_string(info.param.maxsize) : "unbounded") +
         (info.param.immediate ? "_immediate" : "_plain");
}

template <class Tag>
void run_shutdown_mix(long maxsize, bool immediate) {
  using Q = typename Tag::template queue<Tracked>;
  constexpr int kProducers = 3, kConsumers = 3;
  const int per_producer = 200'000 / kScale;  // an upper bound: the shutdown comes first
  const int threshold = 20'000 / kScale;      // items consumed before the shutdown
  Ledger ledger(static_cast<std::size_t>(kProducers) * per_producer);
  std::vector<std::atomic<char>> put_ok(static_cast<std::size_t>(kProducers) * per_producer);
  std::atomic<int> consumed{0}, damaged{0}, stalled{0}, producers_stopped{0},
      consumers_stopped{0};
  std::atomic<bool> shut{false};
  {
    Q q(maxsize);
    // Progress is items consumed: a thread gives up only when none has been for long_wait().
    concur_test::StallWatch watch;
    auto no_progress = [&] { return watch.stalled(static_cast<std::uint64_t>(consumed.load())); };
    auto consumer = [&](int c) {
      for (unsigned n = static_cast<unsigned>(c);; ++n) {
        std::optional<Tracked> item;
        try {
          switch (n % 7) {
            case 0: item.emplace(q.get()); break;  // released by the shutdown at the latest
            case 1: item.emplace(q.get(long_wait())); break;
            case 2: item = q.try_get(long_wait()); break;
            case 3: item = with_short_timeout(n, [&](auto t) { return q.try_get(t); }); break;
            case 4: item.emplace(with_short_timeout(n, [&](auto t) { return q.get(t); })); break;
            case 5: item.emplace(q.get_nowait()); break;
            default: item = q.try_get(); break;
          }
        } catch (const cq::ShutDown&) {
          consumers_stopped++;
          return;
        } catch (const cq::Empty&) {
        }
        if (!item) {
          // nullopt from a try_get on a shut-down queue means it is empty for good.
          if (shut.load() && q.empty()) {
            consumers_stopped++;
            return;
          }
          if (no_progress()) {
            stalled++;
            return;
          }
          std::this_thread::yield();
          continue;
        }
        if (item->id() < 0) damaged++;
        item->receive();
        consumed.fetch_add(1, std::memory_order_relaxed);
        q.task_done();
      }
    };
    auto producer = [&](int p) {
      for (int i = 0; i < per_producer; ++i) {
        const int id = p * per_producer + i;
        Tracked item(&ledger, id);
        for (unsigned attempt = static_cast<unsigned>(i);; ++attempt) {
          bool put = false, refused = false;
          try {
            switch (attempt % 6) {
              case 0: q.put(std::move(item)); put = true; break;  // ShutDown wakes it
              case 1: q.put(std::move(item), long_wait()); put = true; break;
              case 2: put = q.try_put(std::move(item)); break;
              case 3:
                put = with_short_timeout(attempt, [&](auto t) { return q.try_put(std::move(item), t); });
                break;
              case 4:
                with_short_timeout(attempt, [&](auto t) { q.put(std::move(item), t); });
                put = true;
                break;
              default: q.put_nowait(std::move(item)); put = true; break;
            }
          } catch (const cq::Full&) {
          } catch (const cq::ShutDown&) {
            refused = true;
          }
          if (put) {
            put_ok[id] = 1;
            break;
          }
          // Not put: the item must still be the producer's, intact.
          if (item.id() != id) {
            damaged++;
            producers_stopped++;
            return;
          }
          if (refused || shut.load()) {
            item.withdraw();
            producers_stopped++;
            return;
          }
          if (no_progress()) {
            item.withdraw();
            stalled++;
            return;
          }
          std::this_thread::yield();
        }
      }
      producers_stopped++;  // ran out of ids before the shutdown (a very fast machine)
    };
    std::vector<std::jthread> threads;
    for (int p = 0; p < kProducers; ++p) threads.emplace_back(producer, p);
    for (int c = 0; c < kConsumers; ++c) threads.emplace_back(consumer, c);
    EXPECT_TRUE(concur_test::eventually_reaches([&] { return consumed.load(); },
                                                static_cast<std::uint64_t>(threshold), watch));
    q.shutdown(immediate);
    shut = true;
    threads.clear();
    const std::size_t left = q.qsize();
    EXPECT_EQ(left, 0u) << "items queued after every consumer found the queue shut down and "
                           "empty (a put that succeeded after a get threw ShutDown?)";
    if (left == 0) {
      q.join();  // consumers marked what they got; immediate shutdown counted the rest
      EXPECT_THROW(q.task_done(), concur::ValueError);
    }
  }  // the queue (and anything discarded it still holds) is destroyed here

  EXPECT_EQ(damaged.load(), 0) << "a failed put took the item, or a get returned an empty one";
  EXPECT_EQ(stalled.load(), 0);
  EXPECT_EQ(producers_stopped.load(), kProducers);
  EXPECT_EQ(consumers_stopped.load(), kConsumers);
  long n_put = 0, n_received = 0, n_discarded = 0, bad = 0;
  for (std::size_t id = 0; id < put_ok.size(); ++id) {
    const int r = ledger.received[id].load(), d = ledger.destroyed[id].load();
    n_received += r;
    n_discarded += d;
    if (put_ok[id]) {
      n_put++;
      if (r + d != 1) bad++;
      if (!immediate && d != 0) bad++;
    } else if (r + d != 0) {
      bad++;
    }
  }
  EXPECT_EQ(bad, 0) << n_put << " put, " << n_received << " received, " << n_discarded
                    << " discarded: every item put must be got or discarded exactly once";
  EXPECT_EQ(n_put, n_received + n_discarded);
  EXPECT_GE(n_received, threshold);
}

class ShutdownMix : public ::testing::TestWithParam<ShutdownConfig> {};

TEST_P(ShutdownMix, EveryItemPutIsGotOrDiscardedExactlyOnce) {
  const ShutdownConfig c = GetParam();
  with_kind(c.kind, [&](auto tag) {
    if constexpr (decltype(tag)::full_interface)
      run_shutdown_mix<decltype(tag)>(c.maxsize, c.immediate);
  });
}

std::vector<ShutdownConfig> shutdown_configs() {
  std::vector<ShutdownConfig> configs;
  for (KindId k : {KindId::Fifo, KindId::Lifo, KindId::Priority, KindId::Pollable})
    for (long maxsize : {1L, 7L, 0L})
      for (bool immediate : {false, true}) configs.push_back({k, maxsize, immediate});
  return configs;
}

INSTANTIATE_TEST_SUITE_P(Stress, ShutdownMix, ::testing::ValuesIn(shutdown_configs()),
                         shutdown_config_name);

// --- untimed blocking: no lost wake-ups -------------------------------------------------------------

template <class Tag>
void run_untimed_handoff(long maxsize) {
  // Untimed put() and get() only, through a small queue: any lost wake-up leaves a thread
  // asleep for good (the watchdog's to report). Sentinels end the consumers.
  constexpr int kProducers = 3, kConsumers = 3;
  const int per_producer = 20'000 / kScale;
  const int total = kProducers * per_producer;
  const auto qp = make_queue<Tag>(maxsize);
  auto& q = *qp;
  std::vector<std::atomic<int>> seen(total);
  std::atomic<int> producers_left{kProducers};
  run_together(kProducers + kConsumers, [&](int t) {
    if (t < kProducers) {
      for (int i = 0; i < per_producer; ++i) {
        if (maxsize <= 0) busy_work((i * 7 + t) % 16);  // let the queue run empty at times
        q.put(t * per_producer + i);
      }
      if (producers_left.fetch_sub(1) == 1)
        for (int c = 0; c < kConsumers; ++c) q.put(-1);
      return;
    }
    for (;;) {
      const int v = q.get();
      if (v < 0) return;
      seen[v].fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (int i = 0; i < total; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  EXPECT_TRUE(q.empty());
}

class UntimedHandoff : public ::testing::TestWithParam<Config> {};

TEST_P(UntimedHandoff, NoLostWakeUps) {
  const Config c = GetParam();
  with_kind(c.kind, [&](auto tag) { run_untimed_handoff<decltype(tag)>(c.maxsize); });
}

INSTANTIATE_TEST_SUITE_P(Stress, UntimedHandoff,
                         ::testing::Values(Config{KindId::Fifo, 1}, Config{KindId::Fifo, 2},
                                           Config{KindId::Fifo, 0}, Config{KindId::Pollable, 1},
                                           Config{KindId::Pollable, 0}, Config{KindId::Simple, 0}),
                         config_name);

// --- task accounting under load ------------------------------------------------------------------

TEST(Stress, JoinUnderLoadSeesEveryTaskDone) {
  // Rounds of: 2 producers put a batch; 3 workers get and task_done; the main thread join()s and
  // then checks that every item of the round was processed.
  cq::Queue<int> q(5);
  constexpr int kWorkers = 3, kRounds = 20;
  const int batch = 2000 / kScale;
  std::atomic<int> processed{0};
  std::atomic<bool> stop{false};
  std::vector<std::jthread> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&] {
      while (!stop.load()) {
        if (auto v = q.try_get(1ms)) {
          processed.fetch_add(1);
          q.task_done();
        }
      }
    });
  for (int round = 1; round <= kRounds; ++round) {
    run_parallel(2, [&](int) {
      for (int i = 0; i < batch / 2; ++i) q.put(i, long_wait());
    });
    q.join();
    ASSERT_EQ(processed.load(), round * (batch / 2) * 2) << "round " << round;
  }
  stop = true;
  workers.clear();
  EXPECT_TRUE(q.empty());
}

}  // namespace
