// An allocation-failure harness for the fault tests: a replaced global operator new
// (alloc_failure.cpp) whose k-th allocation on the current thread, counted from when it is
// armed, throws std::bad_alloc (the nothrow forms return null). Only the fault test
// executables link alloc_failure.cpp: replacing operator new is a whole-program choice.
//
// Allocations on other threads are never failed: a call under test is tried at every
// allocation it makes itself, and the threads it starts run normally.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "concur/errors.hpp"

namespace concur_test::fault {

// From now on, the k-th allocation on this thread fails (k >= 1); 0 disarms.
void arm_allocation_failure(long k) noexcept;
// Disarms; true if the armed failure was injected (the k-th allocation happened).
bool disarm_allocation_failure() noexcept;

// Runs call() with the k-th allocation failing, for k = 1, 2, ..., until a run completes
// without reaching its k-th allocation. After each run, with injection off,
// check(k, injected, error) says whether things are as they must be: injected is true when the
// k-th allocation failed, error is what call() threw (null if nothing). Returns the number of
// runs, so that a test can assert that the call was tried at all its allocations (>= 1).
// A call that keeps reaching its k-th allocation after `limit` runs is a failed test.
// Prints how many allocation points of `what` were failed, for the test log.
inline void report_points(const char* what, long points) {
  std::printf("[ fault    ] %s: %ld allocation points failed\n", what, points);
}

template <class Call, class Check>
long for_every_allocation(Call&& call, Check&& check, long limit = 100000) {
  for (long k = 1; k <= limit; ++k) {
    std::exception_ptr error;
    arm_allocation_failure(k);
    try {
      call();
    } catch (...) {
      error = std::current_exception();
    }
    const bool injected = disarm_allocation_failure();
    check(k, injected, error);
    if (!injected) return k;
  }
  return -1;
}

// A throw out of the call under test must be the injected std::bad_alloc (or the
// RuntimeError "can't start new thread" that std::thread's failed allocation becomes).
inline void expect_allocation_error(long k, bool injected, const std::exception_ptr& error) {
  if (!error) return;
  EXPECT_TRUE(injected) << "k=" << k;
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
  } catch (const concur::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("can't start new thread"), std::string::npos) << e.what();
  } catch (...) {
    ADD_FAILURE() << "k=" << k << ": threw something else";
  }
}

}  // namespace concur_test::fault
