// aio::TaskGroup (Python's Lib/test/test_asyncio/test_taskgroups.py, the parts that apply).
#include <concur/asyncio.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace aio = concur::asyncio;
using namespace std::chrono_literals;

namespace {

aio::Task<int> tg_sleep_then(std::chrono::milliseconds d, int v) {
  co_await aio::sleep(d);
  co_return v;
}
aio::Task<int> tg_fail_after(std::chrono::milliseconds d, std::string what) {
  co_await aio::sleep(d);
  throw std::runtime_error(what);
}

aio::Task<void> all_children_finish(std::vector<int>* out) {
  aio::TaskGroup tg;
  aio::Task<int> a, b;
  co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
    a = g.create_task(tg_sleep_then(2ms, 1));
    b = g.create_task(tg_sleep_then(1ms, 2));
    co_return;
  });
  EXPECT_TRUE(a.done());
  EXPECT_TRUE(b.done());
  out->push_back(a.result());
  out->push_back(b.result());
}

}  // namespace

TEST(AioTaskGroup, RunWaitsForEveryChild) {
  std::vector<int> out;
  aio::run(all_children_finish(&out));
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
}

namespace {
aio::Task<void> one_failure(bool* sibling_cancelled, bool* body_cancelled) {
  aio::TaskGroup tg;
  aio::Task<int> slow;
  bool caught = false;
  try {
    co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
      slow = g.create_task(tg_sleep_then(1h, 1));
      g.create_task(tg_fail_after(1ms, "child failed"));
      try {
        co_await aio::sleep(1h);  // the body is cancelled by the failure
      } catch (const aio::CancelledError&) {
        *body_cancelled = true;
        throw;
      }
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "child failed";
  }
  EXPECT_TRUE(caught);
  *sibling_cancelled = slow.cancelled();
  EXPECT_EQ(aio::current_task()->cancelling(), 0);  // the group took its request back
}
}  // namespace

TEST(AioTaskGroup, TheFirstFailureCancelsTheRestAndIsRethrownAsItself) {
  bool sibling = false, body = false;
  aio::run(one_failure(&sibling, &body));
  EXPECT_TRUE(sibling);
  EXPECT_TRUE(body);
}

namespace {
aio::Task<void> two_failures(std::size_t* n) {
  aio::TaskGroup tg;
  try {
    co_await tg.run([](aio::TaskGroup& g) -> aio::Task<void> {
      g.create_task(tg_fail_after(1ms, "one"));
      g.create_task(tg_fail_after(1ms, "two"));
      co_return;
    });
  } catch (const aio::ExceptionGroup& eg) {
    *n = eg.exceptions().size();
  }
}
}  // namespace

TEST(AioTaskGroup, SeveralFailuresArriveAsAnExceptionGroup) {
  std::size_t n = 0;
  aio::run(two_failures(&n));
  EXPECT_EQ(n, 2u);
}

namespace {
aio::Task<void> grandchild(aio::TaskGroup* g, int* ran) {
  co_await aio::sleep(1ms);
  g->create_task([](int* r) -> aio::Task<void> {
    co_await aio::sleep(1ms);
    ++*r;
  }(ran));
  ++*ran;
}
aio::Task<void> children_create_tasks(int* ran) {
  aio::TaskGroup tg;
  co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
    g.create_task(grandchild(&g, ran));
    co_return;
  });
  EXPECT_THROW(tg.create_task(tg_sleep_then(1ms, 0)), concur::RuntimeError);
}
}  // namespace

TEST(AioTaskGroup, AChildMayCreateTasksAndAFinishedGroupRefusesThem) {
  int ran = 0;
  aio::run(children_create_tasks(&ran));
  EXPECT_EQ(ran, 2);
}

namespace {
aio::Task<void> group_owner(bool* child_cancelled) {
  aio::TaskGroup tg;
  aio::Task<int> child;
  co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
    child = g.create_task(tg_sleep_then(1h, 1));
    co_return;
  });
  *child_cancelled = false;  // not reached
}
aio::Task<void> outside_cancel(bool* cancelled) {
  bool child_cancelled = true;
  aio::Task<void> owner = aio::create_task(group_owner(&child_cancelled));
  co_await aio::sleep(1ms);
  owner.cancel();
  try {
    co_await owner;
  } catch (const aio::CancelledError&) {
    *cancelled = true;
  }
  EXPECT_TRUE(child_cancelled);
}
}  // namespace

TEST(AioTaskGroup, AnOutsideCancellationCancelsTheChildrenAndPropagates) {
  bool cancelled = false;
  aio::run(outside_cancel(&cancelled));
  EXPECT_TRUE(cancelled);
}

namespace {
aio::Task<void> body_fails(bool* child_cancelled) {
  aio::TaskGroup tg;
  aio::Task<int> child;
  bool caught = false;
  try {
    co_await tg.run([&](aio::TaskGroup& g) -> aio::Task<void> {
      child = g.create_task(tg_sleep_then(1h, 1));
      co_await aio::sleep(1ms);
      throw std::logic_error("body");
    });
  } catch (const std::logic_error&) {
    caught = true;
  }
  EXPECT_TRUE(caught);
  *child_cancelled = child.cancelled();
}
}  // namespace

TEST(AioTaskGroup, AnErrorInTheBodyCancelsTheChildren) {
  bool cancelled = false;
  aio::run(body_fails(&cancelled));
  EXPECT_TRUE(cancelled);
}
