// Helpers shared by the concur::futures tests (on top of ../support/test_support.hpp).
//
// Tasks are held where a test needs them with a Gate (a th::Event that a task waits on for at
// most long_wait(), so a test that fails before opening it ends instead of hanging) and report
// that they started with a th::Event: threads meet through these, never through sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace cf = concur::futures;
namespace th = concur::threading;

namespace futures_test {

// The ints from `first` up to `last` (endless without it), calling on_read(i) as each is read:
// std::views::iota (| transform) without the standard views, which clang 14 cannot compile over
// libstdc++ 12, so that map()'s lazy and endless inputs are tested with both compilers.
class Ints {
 public:
  explicit Ints(int first, std::optional<int> last = std::nullopt,
                std::function<void(int)> on_read = {})
      : first_(first), last_(last), on_read_(std::move(on_read)) {}

  struct End {
    std::optional<int> last;
  };
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(int i, const std::function<void(int)>* on_read) : i_(i), on_read_(on_read) {}
    int operator*() const {
      if (on_read_ && *on_read_) (*on_read_)(i_);
      return i_;
    }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    void operator++(int) { ++i_; }
    friend bool operator==(const iterator& it, const End& end) { return end.last == it.i_; }

   private:
    int i_ = 0;
    const std::function<void(int)>* on_read_ = nullptr;
  };
  iterator begin() const { return iterator(first_, &on_read_); }
  End end() const { return End{last_}; }

 private:
  int first_;
  std::optional<int> last_;
  std::function<void(int)> on_read_;
};

// A closed gate that tasks wait at until open().
class Gate {
 public:
  void open() { event_.set(); }
  // Waits (at most long_wait()) for open(); false if it never opened.
  bool wait() { return event_.wait(concur_test::long_wait()); }
  bool is_open() const { return event_.is_set(); }

 private:
  th::Event event_;
};

// Occupies one worker of `pool` until gate.open(): the task sets `started` once it runs and
// returns `value` when let through.
template <class Pool>
cf::Future<int> occupy(Pool& pool, th::Event& started, Gate& gate, int value = 0) {
  return pool.submit([&started, &gate, value] {
    started.set();
    gate.wait();
    return value;
  });
}

// A pool of `workers` (one by default) whose first worker is held at `gate` by `running`, a call
// made by occupy() that returns `value` once let through: on a pool of one, what is submitted
// next stays PENDING. A test names the parts with a structured binding,
//   BusyPool busy;
//   auto& [gate, started, pool, blocker] = busy;
// release() opens the gate and returns the held call's result; the destructor opens the gate
// too, so a test that fails early does not leave the worker waiting (gate and started outlive
// the pool, whose destructor joins that worker).
struct BusyPool {
  explicit BusyPool(int value = 0, int workers = 1)
      : pool(workers), running(occupy(pool, started, gate, value)) {}
  ~BusyPool() { gate.open(); }
  BusyPool(const BusyPool&) = delete;
  BusyPool& operator=(const BusyPool&) = delete;

  int release() {
    gate.open();
    return running.result(concur_test::long_wait());
  }

  Gate gate;
  th::Event started;
  cf::ThreadPoolExecutor pool;
  cf::Future<int> running;
};

// A thread-safe append-only log of values.
template <class T>
class Log {
 public:
  void push(T v) {
    std::lock_guard g(mutex_);
    items_.push_back(std::move(v));
  }
  std::vector<T> items() const {
    std::lock_guard g(mutex_);
    return items_;
  }
  std::size_t size() const {
    std::lock_guard g(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> items_;
};

// Whether `e` holds an exception of type E (or derived from it).
template <class E>
bool holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace futures_test

// What every futures test uses unqualified.
using namespace std::chrono_literals;
using namespace concur_test;   // long_wait, scaled, eventually, time_of, what_of, run_together, ...
using namespace futures_test;  // Gate, occupy, BusyPool, Log, holds, Ints
