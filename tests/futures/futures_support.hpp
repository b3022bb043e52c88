// Helpers shared by the concur::futures tests (on top of ../support/test_support.hpp).
//
// Tasks are held where a test needs them with a Gate (a th::Event that a task waits on for at
// most long_wait(), so a test that fails before opening it ends instead of hanging) and report
// that they started with a th::Event: threads meet through these, never through sleeps.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures.hpp"
#include "concur/threading.hpp"
#include "test_support.hpp"

namespace futures_test {

namespace cf = concur::futures;
namespace th = concur::threading;

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

// The what() of the exception in `e` ("<non-std exception>" for others, "<null>" for none).
inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return "<null>";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<non-std exception>";
  }
}

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
