// Helpers shared by the tests.
//
// Rules every test follows (DEVELOPERS.md): every blocking call is bounded — use a timeout form,
// or rely on the watchdog in watchdog_main.cpp; no test asserts on speed; timing assertions use
// generous bounds (scaled by CONCUR_TEST_TIME_SCALE under sanitizers); stress tests check
// conservation (every item exactly once); no sleep is used to make threads meet — a sleep may
// only give a thread time to do something wrong (then the assertion checks it did not).
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#ifndef CONCUR_TEST_TIME_SCALE
#define CONCUR_TEST_TIME_SCALE 1
#endif

namespace concur_test {

using namespace std::chrono_literals;

// How long one test may run before the watchdog fails it.
inline std::chrono::seconds watchdog_limit() { return std::chrono::seconds(60 * CONCUR_TEST_TIME_SCALE); }

// A bound for "this must happen soon" waits: generous, so it never fails on a slow machine.
inline std::chrono::milliseconds long_wait() { return std::chrono::milliseconds(10000 * CONCUR_TEST_TIME_SCALE); }

// Scale a duration for slow (sanitizer) builds.
template <class D>
D scaled(D d) { return d * CONCUR_TEST_TIME_SCALE; }

// Runs fn(i) on n std::threads at once and joins them all.
inline void run_parallel(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

}  // namespace concur_test
