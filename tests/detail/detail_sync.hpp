// Helpers shared by the tests of the internals (tests/detail): threads meet through the
// standard library only, never through the code under test, and every wait here is bounded.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace concur_detail_test {

using namespace concur_test;

// A count that threads raise and others wait for, with a bounded wait (std::mutex and
// std::condition_variable: independent of concur).
class Count {
 public:
  void add(int n = 1) {
    {
      std::lock_guard g(m_);
      n_ += n;
    }
    cv_.notify_all();
  }
  // Waits until the count reaches `n` (at most `limit`); returns whether it did.
  bool wait_for(int n, std::chrono::milliseconds limit = long_wait()) {
    std::unique_lock g(m_);
    return cv_.wait_for(g, limit, [&] { return n_ >= n; });
  }
  int value() {
    std::lock_guard g(m_);
    return n_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int n_ = 0;
};

// A one-shot flag: a Count that goes to 1.
class Flag {
 public:
  void set() { c_.add(); }
  bool wait(std::chrono::milliseconds limit = long_wait()) { return c_.wait_for(1, limit); }
  bool is_set() { return c_.value() > 0; }

 private:
  Count c_;
};

// Waits (polling: a thread asleep in a system call signals nothing) until thread tids[i] sleeps
// on addrs[i] for every i. Returns false if /proc never showed it (another kernel): callers
// then skip only the assertions that need the threads to have been asleep.
inline bool wait_until_asleep(const std::vector<long>& tids, const std::vector<const void*>& addrs) {
  return eventually(
      [&] {
        for (std::size_t i = 0; i < tids.size(); ++i)
          if (!asleep_on(tids[i], addrs[i])) return false;
        return true;
      },
      scaled(std::chrono::milliseconds(3000)));
}

// A small deterministic generator (xorshift), for reproducible "random" schedules.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  // Uniform enough in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t s_;
};

}  // namespace concur_detail_test
