// Port of seed 002, §10 (first program) and seed 000, §12.3 (second program): what put() and
// get() do when they cannot proceed.
//   1. seed 002: bq = queue.Queue(2) takes two puts; the third put() blocks the thread (①), so
//      the seed never prints 2222222222. Here the third put is given a timeout: it blocks for
//      0.1 s and then raises queue.Full, and the program goes on.
//   2. seed 000: get(block=False) on an empty queue, get(timeout=...) and put(block=False) on a
//      full queue, each catching queue.Empty / queue.Full. The seed's timeout=5.0 is 0.05 s here.
//      Every other spelling of the same calls is shown too, plus try_get/try_put, which report
//      "nothing" in their result instead of raising.
#include <concur/queue.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "print.hpp"

namespace cq = concur::queue;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

int main() {
  print("--- 1. seed 002: bq = queue.Queue(2)");
  {
    // 定义一个长度为 2 的阻塞队列
    cq::Queue<std::string> bq(2);
    bq.put("Python");
    bq.put("Python");
    print("1111111111");
    auto t0 = Clock::now();
    try {
      bq.put("Python", 100ms);  // ① 阻塞线程 — the seed blocks here forever
    } catch (const cq::Full& e) {
      long waited = ms_since(t0);
      print("queue.Full after blocking", waited >= 100 ? ">= 100 ms" : "< 100 ms (wrong!)",
            "(what():", std::string(e.what()) + ")");
    }
    print("2222222222");
    print("qsize() =", bq.qsize(), " full() =", bq.full() ? "True" : "False");
  }

  print("--- 2. seed 000: block=False and timeouts");
  {
    cq::Queue<int> q;
    try {
      int data = q.get(false);  // q.get(block=False)
      print("got", data);
    } catch (const cq::Empty&) {
      print("q.get(block=False): queue.Empty");
    }
    try {
      int data = q.get_nowait();
      print("got", data);
    } catch (const cq::Empty&) {
      print("q.get_nowait(): queue.Empty");
    }

    auto t0 = Clock::now();
    try {
      int data = q.get(50ms);  // q.get(timeout=5.0)
      print("got", data);
    } catch (const cq::Empty&) {
      print("q.get(timeout=0.05): queue.Empty after",
            ms_since(t0) >= 50 ? ">= 50 ms" : "< 50 ms (wrong!)");
    }
    t0 = Clock::now();
    try {
      int data = q.get(true, std::chrono::duration<double>(0.05));  // q.get(True, 0.05)
      print("got", data);
    } catch (const cq::Empty&) {
      print("q.get(True, 0.05): queue.Empty after",
            ms_since(t0) >= 50 ? ">= 50 ms" : "< 50 ms (wrong!)");
    }
    std::optional<int> o = q.try_get();
    print("q.try_get():", o ? std::to_string(*o) : "nullopt (no exception)");

    q.put(1);
    print("after q.put(1): q.get(timeout=0.05) =", q.get(50ms));
  }
  {
    cq::Queue<int> q(1);
    q.put(1);
    try {
      q.put(2, false);  // q.put(item, block=False)
    } catch (const cq::Full&) {
      print("q.put(item, block=False) on a full Queue(1): queue.Full");
    }
    try {
      q.put_nowait(2);
    } catch (const cq::Full&) {
      print("q.put_nowait(item): queue.Full");
    }
    auto t0 = Clock::now();
    try {
      q.put(2, true, 50ms);  // q.put(item, True, 0.05)
    } catch (const cq::Full&) {
      print("q.put(item, True, 0.05): queue.Full after",
            ms_since(t0) >= 50 ? ">= 50 ms" : "< 50 ms (wrong!)");
    }
    print("q.try_put(item):", q.try_put(2) ? "True" : "False (no exception)");
    int got = q.get();
    bool put = q.try_put(2);
    print("q.get() =", got, "; then q.try_put(2):", put ? "True" : "False",
          "; q.get_nowait() =", q.get_nowait());
  }

  print("--- both are concur::Error");
  try {
    cq::Queue<int>{}.get_nowait();
  } catch (const concur::Error& e) {
    print("caught as concur::Error:", e.what());
  }
}
