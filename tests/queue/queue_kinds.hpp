// Helpers shared by the queue tests: one tag per queue kind (so that a typed test can build the
// same kind over int, std::unique_ptr<int> or a tracked item), the order each kind hands items
// back in, a single-threaded reference model of that order, and a move-only item that reports
// where it ended up (received by a consumer, or destroyed inside a queue).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/queue.hpp"

namespace queue_test {

namespace cq = concur::queue;

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

struct FifoTag {
  template <class T>
  using queue = cq::Queue<T>;
  static constexpr Order order = Order::Fifo;
  static constexpr bool full_interface = true;  // maxsize, full, task_done/join, shutdown
  static constexpr const char* name = "Queue";
};
struct LifoTag {
  template <class T>
  using queue = cq::LifoQueue<T>;
  static constexpr Order order = Order::Lifo;
  static constexpr bool full_interface = true;
  static constexpr const char* name = "LifoQueue";
};
struct PriorityTag {
  template <class T>
  using queue = cq::PriorityQueue<T, typename DefaultLess<T>::type>;
  static constexpr Order order = Order::Smallest;
  static constexpr bool full_interface = true;
  static constexpr const char* name = "PriorityQueue";
};
struct PollableTag {
  template <class T>
  using queue = cq::PollableQueue<T>;
  static constexpr Order order = Order::Fifo;
  static constexpr bool full_interface = true;
  static constexpr const char* name = "PollableQueue";
};
struct SimpleTag {
  template <class T>
  using queue = cq::SimpleQueue<T>;
  static constexpr Order order = Order::Fifo;
  static constexpr bool full_interface = false;
  static constexpr const char* name = "SimpleQueue";
};

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

}  // namespace queue_test
