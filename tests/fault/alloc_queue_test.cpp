// Allocation failure at every allocation of queue put and get (alloc_failure.hpp; issue 16,
// defect 4): enough items that the lock-free FIFOs allocate new blocks and the locked
// containers grow, over int and over std::string (whose copy allocates). A put that throws
// leaves the queue as it was, a get that throws leaves the item queued; every item comes out
// once, in order.
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "alloc_failure.hpp"
#include "concur/queue.hpp"
#include "test_support.hpp"

namespace cq = concur::queue;
using namespace std::chrono_literals;
using concur_test::fault::for_every_allocation;

namespace {

enum class Order { Fifo, Lifo, Smallest };

int value_of(int v) { return v; }
int value_of(const std::string& s) { return std::stoi(s); }
template <class T>
T make(int v) {
  if constexpr (std::is_same_v<T, std::string>)
  {
    // Too long for the string's own buffer; zero-padded, so that strings order as numbers.
    std::string digits = std::to_string(v);
    return std::string(40 - digits.size(), '0') + digits;
  }
  else
    return v;
}

void expect_bad_alloc(long k, bool injected, const std::exception_ptr& error) {
  if (!error) return;
  EXPECT_TRUE(injected) << "k=" << k;
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
  } catch (...) {
    ADD_FAILURE() << "k=" << k << ": threw something other than std::bad_alloc";
  }
}

// `grows`: the queue allocates as it fills (all but the bounded ring, allocated up front).
template <class T, class Q>
void exercise(Q& q, Order order, const char* what, bool grows = true, int n = 300) {
  std::vector<int> put;
  long points = 0;
  for (int i = 0; i < n; ++i) {
    const int v = order == Order::Smallest ? (i * 37) % n : i;
    const T item = make<T>(v);
    const std::size_t before = q.qsize();
    const int form = i % 3;
    points += for_every_allocation(
        [&] {
          switch (form) {
            case 0: q.put(item); break;            // copies
            case 1: q.put(T(item)); break;         // the copy is made under injection too
            default: EXPECT_TRUE(q.try_put(item)); break;
          }
        },
        [&](long k, bool injected, std::exception_ptr error) {
          expect_bad_alloc(k, injected, error);
          EXPECT_EQ(q.qsize(), error ? before : before + 1) << "put " << v << " k=" << k;
        }) - 1;
    put.push_back(v);
  }
  if (grows || std::is_same_v<T, std::string>) {
    EXPECT_GT(points, 0) << "no put allocated";
  }
  std::vector<int> got;
  long get_points = 0;
  for (int i = 0; i < n; ++i) {
    const std::size_t before = q.qsize();
    std::optional<int> value;
    const int form = i % 3;
    get_points += for_every_allocation(
        [&] {
          switch (form) {
            case 0: value = value_of(q.get()); break;
            case 1: value = value_of(q.get_nowait()); break;
            default: {
              std::optional<T> x = q.try_get(1s);
              ASSERT_TRUE(x.has_value());
              value = value_of(*x);
            }
          }
        },
        [&](long k, bool injected, std::exception_ptr error) {
          expect_bad_alloc(k, injected, error);
          EXPECT_EQ(q.qsize(), error ? before : before - 1) << "get " << i << " k=" << k;
          if (error) value.reset();
        }) - 1;
    ASSERT_TRUE(value.has_value());
    got.push_back(*value);
  }
  const std::string name = std::string(what) + (std::is_same_v<T, int> ? "<int>" : "<std::string>");
  concur_test::fault::report_points((name + ": 300 puts").c_str(), points);
  concur_test::fault::report_points((name + ": 300 gets").c_str(), get_points);
  std::vector<int> want = put;
  if (order == Order::Lifo) std::reverse(want.begin(), want.end());
  if (order == Order::Smallest) std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

template <class T>
void all_kinds() {
  {
    cq::Queue<T> q;
    exercise<T>(q, Order::Fifo, "Queue");
  }
  {
    cq::Queue<T> q(1000);  // the bounded ring: allocated up front
    exercise<T>(q, Order::Fifo, "Queue(1000)", false);
  }
  {
    cq::SimpleQueue<T> q;
    exercise<T>(q, Order::Fifo, "SimpleQueue");
  }
  {
    cq::LifoQueue<T> q;
    exercise<T>(q, Order::Lifo, "LifoQueue");
  }
  {
    cq::PriorityQueue<T> q;
    exercise<T>(q, Order::Smallest, "PriorityQueue");
  }
  {
    cq::PollableQueue<T> q;
    exercise<T>(q, Order::Fifo, "PollableQueue");
  }
}

TEST(AllocFailure, QueuePutGetInt) { all_kinds<int>(); }
TEST(AllocFailure, QueuePutGetString) { all_kinds<std::string>(); }

// Queue construction: a constructor that throws leaks nothing (ASan).
TEST(AllocFailure, QueueConstruction) {
  const long runs = for_every_allocation(
      [] {
        cq::Queue<int> a;
        cq::Queue<int> b(100);
        cq::SimpleQueue<int> c;
        cq::PollableQueue<int> d;
        a.put(1);
        EXPECT_EQ(a.get(), 1);
      },
      [](long k, bool injected, std::exception_ptr error) { expect_bad_alloc(k, injected, error); });
  concur_test::fault::report_points("Queue, Queue(100), SimpleQueue, PollableQueue construction + put/get", runs - 1);
  EXPECT_GE(runs, 2);
}

}  // namespace
