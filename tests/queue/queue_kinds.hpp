// Helpers shared by the queue tests: one tag per queue kind (so that a typed test can build the
// same kind over int, std::unique_ptr<int> or a tracked item), the order each kind hands items
// back in, a single-threaded reference model of that order, and a move-only item that reports
// where it ended up (received by a consumer, or destroyed inside a queue), a thread blocked in
// join() (Joiner), and the names every queue test uses unqualified.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/queue.hpp"
#include "test_support.hpp"

namespace cq = concur::queue;

namespace queue_test {

enum class Order { Fifo, Lifo, Smallest };

// The key a PriorityQueue over move-only items is ordered by: the pointee, not the address.
inline int key_of(int v) { return v; }
inline int key_of(const std::unique_ptr<int>& p) { return *p; }

struct PointeeLess {
  bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
    return *a < *b;
  }
};

// int keeps the default Compare (std::less<int>, smallest first, as in Python); items without a
// meaningful operator< get a comparator on what they hold.
template <class T>
struct DefaultLess {
  using type = std::less<T>;
};
template <>
struct DefaultLess<std::unique_ptr<int>> {
  using type = PointeeLess;
};

// A queue kind: the queue over T it builds, the order it hands items back in, and whether it has
// the whole Queue interface (maxsize, full, task_done/join, shutdown); each tag adds its name.
template <template <class> class Q, Order O, bool Full = true>
struct Kind {
  template <class T>
  using queue = Q<T>;
  static constexpr Order order = O;
  static constexpr bool full_interface = Full;
};
template <class T>
using DefaultPriorityQueue = cq::PriorityQueue<T, typename DefaultLess<T>::type>;

struct FifoTag : Kind<cq::Queue, Order::Fifo> { static constexpr const char* name = "Queue"; };
struct LifoTag : Kind<cq::LifoQueue, Order::Lifo> { static constexpr const char* name = "LifoQueue"; };
struct PriorityTag : Kind<DefaultPriorityQueue, Order::Smallest> { static constexpr const char* name = "PriorityQueue"; };
struct PollableTag : Kind<cq::PollableQueue, Order::Fifo> { static constexpr const char* name = "PollableQueue"; };
struct SimpleTag : Kind<cq::SimpleQueue, Order::Fifo, false> { static constexpr const char* name = "SimpleQueue"; };

static_assert(std::is_same_v<PriorityTag::queue<int>, cq::PriorityQueue<int>>,
              "the int PriorityQueue of the typed tests is the default-Compare one");

// The kinds with the whole Queue interface, and every kind (SimpleQueue: put/get side only).
using FullKinds = ::testing::Types<FifoTag, LifoTag, PriorityTag, PollableTag>;
using AllKinds = ::testing::Types<FifoTag, LifoTag, PriorityTag, PollableTag, SimpleTag>;

struct KindName {
  template <class Tag>
  static std::string GetName(int) {
    return Tag::name;
  }
};

// A single-threaded model of the order a kind hands items back in (ties in a PriorityQueue are
// not modelled: the tests that use the model put distinct keys).
class Model {
 public:
  explicit Model(Order order) : order_(order) {}
  void put(int v) { items_.push_back(v); }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  int get() {
    std::deque<int>::iterator it;
    switch (order_) {
      case Order::Fifo: it = items_.begin(); break;
      case Order::Lifo: it = std::prev(items_.end()); break;
      case Order::Smallest: it = std::min_element(items_.begin(), items_.end()); break;
    }
    const int v = *it;
    items_.erase(it);
    return v;
  }

 private:
  Order order_;
  std::deque<int> items_;
};

// What a kind returns, one get at a time, after the values `in` were put in that order.
inline std::vector<int> expected_order(Order order, const std::vector<int>& in) {
  Model m(order);
  for (int v : in) m.put(v);
  std::vector<int> out;
  while (!m.empty()) out.push_back(m.get());
  return out;
}

// Where each tracked item ended: received (taken out of a queue by a consumer) or destroyed
// while still owned by a queue (discarded). Indexed by item id.
struct Ledger {
  explicit Ledger(std::size_t n) : received(n), destroyed(n) {}
  std::vector<std::atomic<int>> received, destroyed;
};

// A move-only item that remembers its id. Destroyed while it still holds its id, it counts as
// destroyed in its ledger; release() hands the id to the caller and empties it. A moved-from
// Tracked is empty (id -1) and records nothing.
class Tracked {
 public:
  Tracked(Ledger* ledger, int id) : ledger_(ledger), id_(id) {}
  Tracked(Tracked&& o) noexcept : ledger_(o.ledger_), id_(std::exchange(o.id_, -1)) {}
  Tracked& operator=(Tracked&& o) noexcept {
    if (this != &o) {
      record_destroyed();
      ledger_ = o.ledger_;
      id_ = std::exchange(o.id_, -1);
    }
    return *this;
  }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { record_destroyed(); }

  int id() const { return id_; }
  // The consumer's receipt: counts the item received and empties it.
  int receive() {
    const int id = std::exchange(id_, -1);
    if (id >= 0) ledger_->received[id].fetch_add(1, std::memory_order_relaxed);
    return id;
  }
  // The producer takes its item back (a put that failed): nothing is recorded.
  void withdraw() { id_ = -1; }
  // For a PriorityQueue<Tracked>: smallest id first.
  friend bool operator<(const Tracked& a, const Tracked& b) { return a.id_ < b.id_; }

 private:
  void record_destroyed() {
    if (id_ >= 0) ledger_->destroyed[id_].fetch_add(1, std::memory_order_relaxed);
  }
  Ledger* ledger_;
  int id_;
};

// An item that counts the live values (a moved-from Counted holds none), to check that a queue
// destroys exactly the items it holds, once each.
struct Counted {
  static inline std::atomic<int> live{0};
  int value;
  explicit Counted(int v) : value(v) { live.fetch_add(1); }
  Counted(const Counted& o) : value(o.value) {
    if (value >= 0) live.fetch_add(1);
  }
  Counted(Counted&& o) noexcept : value(std::exchange(o.value, -1)) {}
  Counted& operator=(const Counted& o) {
    if (this != &o) {
      drop();
      value = o.value;
      if (value >= 0) live.fetch_add(1);
    }
    return *this;
  }
  Counted& operator=(Counted&& o) noexcept {
    if (this != &o) {
      drop();
      value = std::exchange(o.value, -1);
    }
    return *this;
  }
  ~Counted() { drop(); }
  friend bool operator<(const Counted& a, const Counted& b) { return a.value < b.value; }

 private:
  void drop() {
    if (value >= 0) live.fetch_sub(1);
    value = -1;
  }
};

// Runs q.join() on a thread; joined() tells whether it has returned.
template <class Q>
class Joiner {
 public:
  explicit Joiner(Q& q)
      : thread_([this, &q] {
          entered_ = true;
          q.join();
          joined_ = true;
        }) {
    EXPECT_TRUE(concur_test::eventually([&] { return entered_.load(); }));
  }
  bool joined() const { return joined_.load(); }
  // Gives the join() time to return wrongly, then checks that it has not.
  void expect_blocked(const char* why = "") {
    concur_test::give_time_to_misbehave();
    EXPECT_FALSE(joined()) << why;
  }
  void wait() { thread_.join(); }  // a join() that never returns is the watchdog's to report

 private:
  std::atomic<bool> entered_{false}, joined_{false};
  std::jthread thread_;
};

}  // namespace queue_test

// What every queue test uses unqualified.
using namespace std::chrono_literals;
using namespace concur_test;  // long_wait, scaled, eventually, time_of, run_together, ...
using namespace queue_test;   // kind tags, Model, expected_order, Ledger, Tracked, Counted, Joiner
