// mp::Value and mp::Array (concur/multiprocessing/sharedctypes.hpp, API.md §6.2), after
// CPython's Lib/test/_test_multiprocessing.py (_TestValue, _TestArray): initial values, zero
// filling, the lock, children changing them, conservation under the lock across processes,
// a dead holder, and crossing through the FdTable seam.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <concur/multiprocessing.hpp>

#include "bounded_child.hpp"
#include "shared_support.hpp"
#include "test_support.hpp"

namespace {

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::long_wait;
using concur_test::start_child;
using shared_test::Children;
using shared_test::Reap;

struct SharedPoint {
  double x;
  std::int32_t y;
  char tag;
};

TEST(MpValue, InitialValues) {
  // _TestValue.test_value: a value of each kind, then changed in a child.
  mp::Value<int> i(-5);
  mp::Value<double> d(1.25);
  mp::Value<char> c('x');
  mp::Value<std::int64_t> zero;
  mp::Value<SharedPoint> p(SharedPoint{1.5, -2, 'p'});
  EXPECT_EQ(i.value(), -5);
  EXPECT_EQ(d.value(), 1.25);
  EXPECT_EQ(c.value(), 'x');
  EXPECT_EQ(zero.value(), 0);
  EXPECT_EQ(p.value().y, -2);
  Reap child{start_child([&] {
    i.value() = 7;
    d.set(2.5);
    c.value() = 'y';
    zero.value() = std::int64_t{1} << 40;
    p.value().tag = 'q';
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_EQ(i.get(), 7);
  EXPECT_EQ(d.value(), 2.5);
  EXPECT_EQ(c.value(), 'y');
  EXPECT_EQ(zero.value(), std::int64_t{1} << 40);
  EXPECT_EQ(p.value().tag, 'q');
}

TEST(MpValue, TheLock) {
  mp::Value<int> v(0);
  { std::lock_guard g(v); v.value() += 1; }
  EXPECT_TRUE(v.acquire(false));
  EXPECT_TRUE(v.acquire(false));  // an RLock
  mp::RLock lock = v.get_lock();
  EXPECT_TRUE(lock.is_owned());
  std::thread([&] { EXPECT_FALSE(v.acquire(10ms)); }).join();
  v.release();
  v.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(v.release(), concur::RuntimeError);
  mp::Value<int> copy = v;
  copy.value() = 41;
  EXPECT_EQ(v.value(), 41);
}

TEST(MpValue, IncrementsUnderTheLockAcrossProcessesAddUp) {
  // N processes x M increments under the Value's lock: exactly N*M (plus the parent's).
  constexpr int kChildren = 3, kIncrements = 20000;
  mp::Value<long> counter(0);
  mp::Barrier start(kChildren + 1);
  Children children;
  for (int k = 0; k < kChildren; ++k)
    children.add(start_child([&] {
      CHILD_CHECK(start.wait(long_wait()) < kChildren + 1);
      for (int i = 0; i < kIncrements; ++i) {
        std::lock_guard g(counter);
        counter.value() += 1;
      }
      return 0;
    }));
  ASSERT_LT(start.wait(long_wait()), static_cast<std::size_t>(kChildren + 1));
  for (int i = 0; i < kIncrements; ++i) {
    std::lock_guard g(counter);
    counter.value() += 1;
  }
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
  EXPECT_EQ(counter.get(), long{kChildren + 1} * kIncrements);
}

TEST(MpValue, AHolderThatDies) {
  mp::Value<int> v(0);
  Reap child{start_child([&] {
    v.acquire();
    v.acquire();
    v.value() = 99;  // half an update
    ::_exit(0);
    return 0;
  })};
  ASSERT_EQ(child.wait(), 0);
  EXPECT_THROW((void)v.acquire(long_wait()), mp::OwnerDied);
  {
    std::lock_guard g(v);
    EXPECT_EQ(v.value(), 99);  // what the dead holder wrote is there
  }
  EXPECT_FALSE(v.get_lock().locked());
}

TEST(MpArray, ZeroFilledAndFromValues) {
  // _TestArray.test_array / test_array_from_size / test_rawarray.
  mp::Array<double> arr(100);
  EXPECT_EQ(arr.size(), 100u);
  for (std::size_t i = 0; i < arr.size(); ++i) EXPECT_EQ(arr[i], 0.0);
  mp::Array<int> a{1, 2, 3};
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2], 3);
  mp::Array<int> b(std::vector<int>{4, 5, 6, 7});
  EXPECT_EQ(b.to_vector(), (std::vector<int>{4, 5, 6, 7}));
  mp::Array<char> empty(0);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_THROW((void)a.at(3), std::out_of_range);
  mp::Array<SharedPoint> pts(2);
  EXPECT_EQ(pts[1].tag, 0);
}

TEST(MpArray, ChildrenFillIt) {
  // Each of 4 children fills its quarter; the parent sees the whole under the lock.
  mp::Array<int> arr(400);
  Children children;
  for (int k = 0; k < 4; ++k)
    children.add(start_child([&, k] {
      for (int i = 0; i < 100; ++i) arr[k * 100 + i] = k * 100 + i;
      return 0;
    }));
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
  std::vector<int> expected(400);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(arr.to_vector(), expected);
}

TEST(MpArray, ConservationUnderTheLock) {
  // Two children and the parent move units between cells under the lock; the total stays.
  mp::Array<long> cells(8);
  {
    std::lock_guard g(cells);
    for (auto& c : cells) c = 1000;
  }
  auto shuffle = [&](unsigned seed) {
    for (int i = 0; i < 20000; ++i) {
      seed = seed * 1103515245u + 12345u;
      const std::size_t from = (seed >> 8) % 8, to = (seed >> 16) % 8;
      std::lock_guard g(cells);
      cells[from] -= 1;
      cells[to] += 1;
    }
  };
  Children children;
  for (unsigned k = 1; k <= 2; ++k)
    children.add(start_child([&, k] {
      shuffle(k);
      return 0;
    }));
  shuffle(7);
  for (int status : children.wait_all()) EXPECT_EQ(status, 0);
  const auto all = cells.to_vector();
  EXPECT_EQ(std::accumulate(all.begin(), all.end(), 0L), 8000L);
}

static_assert(mp::Serializable<mp::Value<int>> && mp::Serializable<mp::Array<SharedPoint>>);

TEST(MpSharedCrossing, ValueAndArrayCross) {
  mp::Value<int> v(1);
  mp::Array<double> a(5);
  using Args = std::tuple<mp::Value<int>, mp::Array<double>, mp::RLock>;
  const int socket = shared_test::send_over_socket(Args{v, a, v.get_lock()});
  Reap child{start_child([&] {
    auto [v2, a2, lock] = shared_test::receive_from_socket<Args>(socket);
    CHILD_CHECK(a2.size() == 5);
    std::lock_guard g(lock);  // the Value's own lock, crossed on its own
    CHILD_CHECK(v2.acquire(false));  // the same RLock: re-entrant
    v2.value() += 41;
    v2.release();
    a2[4] = 2.5;
    return 0;
  })};
  ::close(socket);
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(v.get(), 42);
  EXPECT_EQ(a[4], 2.5);
}

TEST(MpSharedCrossing, TypeMismatchIsAValueError) {
  namespace mpd = concur::multiprocessing::detail;
  mp::Value<int> v(1);
  mpd::ByteBuffer buffer;
  mpd::FdTable out;
  mp::serialize_into(buffer, v, &out);
  mpd::FdTable in;
  in.adopt_received({::dup(out.sending()[0])});
  mp::Value<float> wrong;
  EXPECT_THROW(mp::deserialize_into(buffer.view(), wrong, &in), concur::ValueError);
  EXPECT_THROW((void)mp::serialize(v), concur::ValueError);
}

}  // namespace
